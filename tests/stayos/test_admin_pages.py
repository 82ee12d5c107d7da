"""Staff pages stay cheap: the number of queries does not grow with the number of rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stayos.models import Room
from tests.factories import PropertyFactory, RatePlanFactory, RoomFactory, RoomTypeFactory

pytestmark = pytest.mark.django_db


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:stayos_room_changelist",
        "admin:stayos_roomtype_changelist",
        "admin:stayos_property_changelist",
        "admin:stayos_rateplan_changelist",
    ],
)
def test_list_pages_do_not_query_per_row(admin_client: Client, url_name: str):
    def grow() -> None:
        room_type = RoomTypeFactory()
        RoomFactory.create_batch(5, room_type=room_type, property=room_type.property)
        RatePlanFactory(property=room_type.property)

    grow()
    small = _queries(admin_client, reverse(url_name))
    for _ in range(6):
        grow()
    assert _queries(admin_client, reverse(url_name)) == small


def test_rooms_filter_by_status_floor_and_accessibility(admin_client: Client):
    prop = PropertyFactory()
    room_type = RoomTypeFactory(property=prop)
    RoomFactory(number="101", room_type=room_type, property=prop, accessibility=["wheelchair"])
    RoomFactory(
        number="201", floor=2, room_type=room_type, property=prop, housekeeping_status="dirty"
    )
    url = reverse("admin:stayos_room_changelist")
    wheelchair = admin_client.get(url, {"accessibility": "wheelchair"}).context["cl"]
    assert [r.number for r in wheelchair.result_list] == ["101"]
    dirty = admin_client.get(url, {"housekeeping_status__exact": "dirty"}).context["cl"]
    assert [r.number for r in dirty.result_list] == ["201"]
    second_floor = admin_client.get(url, {"floor": "2"}).context["cl"]
    assert [r.number for r in second_floor.result_list] == ["201"]


def test_mark_dirty_action_changes_only_the_selected_rooms(admin_client: Client):
    prop = PropertyFactory()
    room_type = RoomTypeFactory(property=prop)
    selected = RoomFactory.create_batch(2, room_type=room_type, property=prop)
    other = RoomFactory(room_type=room_type, property=prop)
    response = admin_client.post(
        reverse("admin:stayos_room_changelist"),
        {"action": "mark_dirty", "_selected_action": [r.pk for r in selected]},
        follow=True,
    )
    assert "2 room(s) marked dirty." in response.content.decode()
    statuses = dict(Room.objects.values_list("pk", "housekeeping_status"))
    assert [statuses[r.pk] for r in selected] == ["dirty", "dirty"]
    assert statuses[other.pk] == "clean"
    assert Room.objects.get(pk=selected[0].pk).updated_by.username == "maria"


def test_a_rooms_form_offers_only_its_own_propertys_amenities(admin_client: Client):
    from stayos.models import Amenity

    room = RoomFactory()
    own = Amenity.objects.create(property=room.property, code="wifi", name="Wi-Fi")
    other = Amenity.objects.create(property=PropertyFactory(), code="wifi", name="Wi-Fi")
    form = (
        admin_client.get(reverse("admin:stayos_room_change", args=[room.pk]))
        .context["adminform"]
        .form
    )
    offered = set(form.fields["amenities"].queryset)
    assert own in offered
    assert other not in offered
