"""Domain events are written with the change, in the same transaction, by one function."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from audit.events import EventOutsideTransactionError, event_record
from audit.models import DomainEventEntry
from stayos import services
from stayos.models import Room
from tests.admin_forms import room_change_data
from tests.factories import RoomFactory, RoomTypeFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_changing_room_status_records_one_event_per_changed_room():
    room_type = RoomTypeFactory()
    dirty = RoomFactory(
        room_type=room_type, property=room_type.property, housekeeping_status="dirty"
    )
    clean = RoomFactory(
        room_type=room_type, property=room_type.property, housekeeping_status="clean"
    )
    housekeeper = UserFactory()

    changed = services.room_set_housekeeping_status(
        rooms=Room.objects.filter(pk__in=[dirty.pk, clean.pk]), status="clean", actor=housekeeper
    )

    assert changed == 1
    [event] = DomainEventEntry.objects.all()
    assert (event.name, event.aggregate_type, event.aggregate_id) == (
        "room.status_changed",
        "stayos.room",
        dirty.pk,
    )
    assert event.payload == {"number": dirty.number, "from": "dirty", "to": "clean"}
    assert (event.user_id, event.property_id) == (housekeeper.pk, dirty.property_id)


def _status_events() -> list[tuple]:
    return list(
        DomainEventEntry.objects.filter(name="room.status_changed")
        .order_by("id")
        .values_list("aggregate_id", "payload", "user_id", "property_id")
    )


def test_changing_room_status_on_its_change_form_records_one_event(
    admin_client: Client, staff_user
):
    room = RoomFactory(housekeeping_status="clean")
    url = reverse("admin:stayos_room_change", args=[room.pk])

    response = admin_client.post(url, room_change_data(room, 1, housekeeping_status="dirty"))
    assert response.status_code == 302
    # Saving the form again without touching the status records nothing more.
    admin_client.post(url, room_change_data(room, 2, housekeeping_status="dirty", floor=3))

    assert _status_events() == [
        (
            room.pk,
            {"number": room.number, "from": "clean", "to": "dirty"},
            staff_user.pk,
            room.property_id,
        )
    ]


def test_the_bulk_action_records_one_event_per_changed_room(admin_client: Client, staff_user):
    room_type = RoomTypeFactory()
    clean, dirty = (
        RoomFactory(room_type=room_type, property=room_type.property, housekeeping_status=status)
        for status in ("clean", "dirty")
    )

    admin_client.post(
        reverse("admin:stayos_room_changelist"),
        {"action": "mark_dirty", "_selected_action": [clean.pk, dirty.pk]},
    )

    assert _status_events() == [
        (
            clean.pk,
            {"number": clean.number, "from": "clean", "to": "dirty"},
            staff_user.pk,
            clean.property_id,
        )
    ]


def test_a_status_changed_with_raw_sql_records_its_event():
    room = RoomFactory(housekeeping_status="inspected")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE stayos_room SET housekeeping_status = 'out_of_order' WHERE id = %s", [room.pk]
        )
        cursor.execute(
            "UPDATE stayos_room SET notes = 'no change of status' WHERE id = %s", [room.pk]
        )

    assert _status_events() == [
        (
            room.pk,
            {"number": room.number, "from": "inspected", "to": "out_of_order"},
            None,
            room.property_id,
        )
    ]


def test_an_event_rolls_back_with_its_change():
    room = RoomFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        event_record(name="room.status_changed", aggregate=room, payload={})
        raise RuntimeError("the service failed after recording")
    assert not DomainEventEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_event_outside_a_transaction_is_refused():
    room = RoomFactory()
    with pytest.raises(EventOutsideTransactionError):
        event_record(name="room.status_changed", aggregate=room, payload={})
