"""One audit row per changed row, whatever path the change took."""

from __future__ import annotations

import pytest
from django.db import connection

from audit.context import context
from audit.models import AuditEntry
from stayos.models import Room
from tests.factories import RoomFactory, RoomTypeFactory, UserFactory

pytestmark = pytest.mark.django_db


def _log(**filters) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(table_name="stayos_room", **filters).order_by("id"))


def test_an_orm_insert_records_the_new_row_and_who_made_it():
    clerk = UserFactory()
    with context(user=clerk, reason="new wing"):
        room = RoomFactory(number="501")
    [entry] = _log(row_id=room.pk)
    assert entry.action == "insert"
    assert entry.old is None
    assert entry.new["number"] == "501"
    assert (entry.user_id, entry.reason) == (clerk.pk, "new wing")
    assert entry.property_id == room.property_id
    assert entry.transaction_id > 0


def test_an_orm_save_records_old_new_and_changed_fields():
    room = RoomFactory(notes="", floor=1)
    room.notes = "Minibar restocked"
    room.floor = 2
    room.save()
    [entry] = _log(row_id=room.pk, action="update")
    assert sorted(entry.changed_fields) == ["floor", "notes"]
    assert (entry.old["notes"], entry.new["notes"]) == ("", "Minibar restocked")
    assert (entry.old["version"], entry.new["version"]) == (1, 2)


def test_a_queryset_update_records_one_row_per_room():
    room_type = RoomTypeFactory()
    rooms = RoomFactory.create_batch(3, room_type=room_type, property=room_type.property)
    Room.objects.filter(pk__in=[r.pk for r in rooms]).update(housekeeping_status="dirty")
    entries = _log(action="update")
    assert sorted(e.row_id for e in entries) == sorted(r.pk for r in rooms)
    assert all(e.changed_fields == ["housekeeping_status"] for e in entries)


def test_bulk_create_records_every_row():
    room_type = RoomTypeFactory()
    Room.objects.bulk_create(
        Room(property=room_type.property, room_type=room_type, number=str(n), floor=1)
        for n in range(5)
    )
    assert len(_log(action="insert")) == 5


def test_raw_sql_update_and_delete_are_recorded():
    room = RoomFactory(housekeeping_status="clean")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE stayos_room SET housekeeping_status = 'out_of_order' WHERE id = %s", [room.pk]
        )
        cursor.execute("DELETE FROM stayos_room WHERE id = %s", [room.pk])
    update, delete = _log(row_id=room.pk, action__in=["update", "delete"])
    assert (update.old["housekeeping_status"], update.new["housekeeping_status"]) == (
        "clean",
        "out_of_order",
    )
    assert delete.action == "delete"
    assert delete.old["number"] == room.number
    assert delete.new is None


def test_an_update_that_changes_nothing_records_nothing():
    room = RoomFactory()
    Room.objects.get(pk=room.pk).save()  # bumps the version, changes no data
    Room.objects.filter(pk=room.pk).update(notes=room.notes)
    assert _log(row_id=room.pk, action="update") == []
    assert Room.objects.get(pk=room.pk).version == 3
