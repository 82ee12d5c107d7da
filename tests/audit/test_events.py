"""Domain events are written with the change, in the same transaction, by one function."""

from __future__ import annotations

import pytest
from django.db import transaction

from audit.events import EventOutsideTransactionError, event_record
from audit.models import DomainEventEntry
from stayos import services
from stayos.models import Room
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
