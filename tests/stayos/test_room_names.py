"""A room names its hotel ("LIS1 · 101": both hotels have a 101), without a query per room."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stayos.models import Room
from tests.factories import PropertyFactory, RoomFactory, RoomTypeFactory

pytestmark = pytest.mark.django_db


def test_a_room_shows_its_hotel():
    lisbon = RoomFactory(number="101", property__code="LIS1", room_type__property__code="LIS1")
    edinburgh = RoomFactory(number="101", room_type__property__code="EDI1")
    assert str(lisbon) == "LIS1 · 101"
    assert str(edinburgh) == "EDI1 · 101"


def test_the_history_title_names_the_hotel(admin_client: Client):
    room = RoomFactory(number="101", room_type__property__code="LIS1")
    response = admin_client.get(reverse("admin:stayos_room_history", args=[room.pk]))
    assert "History: LIS1 · 101" in response.content.decode()


def _queries(client: Client, method: str, url: str, data: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 200
    return len(captured)


def test_pages_naming_many_rooms_do_not_query_per_room(admin_client: Client):
    prop = PropertyFactory(code="LIS1")
    room_type = RoomTypeFactory(property=prop)

    def pages() -> list[int]:
        rooms = list(Room.objects.all())
        return [
            # The room type page lists its rooms (inline).
            _queries(
                admin_client, "get", reverse("admin:stayos_roomtype_change", args=[room_type.pk])
            ),
            # "Delete selected rooms" asks for confirmation, naming each room.
            _queries(
                admin_client,
                "post",
                reverse("admin:stayos_room_changelist"),
                {"action": "delete_selected", "_selected_action": [room.pk for room in rooms]},
            ),
        ]

    RoomFactory.create_batch(2, room_type=room_type, property=prop)
    pages()  # the first request of a session reads a few things once
    small = pages()
    RoomFactory.create_batch(20, room_type=room_type, property=prop)
    response = admin_client.get(reverse("admin:stayos_roomtype_change", args=[room_type.pk]))
    assert response.content.decode().count("LIS1 · ") >= 22
    assert pages() == small
