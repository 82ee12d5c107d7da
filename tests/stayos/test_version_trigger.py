"""The bump_version / stamp_insert triggers own version and who/when, whatever the path."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from audit.context import context
from stayos.models import Room
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db


def _row(room: Room) -> dict:
    return Room.all_objects.filter(pk=room.pk).values("version", "updated_at", "created_at")[0]


def test_it_starts_every_row_at_version_one():
    room = RoomFactory()
    assert _row(room)["version"] == 1


def test_it_bumps_version_on_orm_save():
    room = RoomFactory()
    room.notes = "Fresh paint"
    room.save()
    assert _row(room)["version"] == 2
    assert room.version == 2  # the instance follows, so a second save is not stale


def test_it_bumps_version_on_queryset_update():
    room = RoomFactory()
    Room.objects.filter(pk=room.pk).update(floor=3)
    Room.objects.filter(pk=room.pk).update(floor=4)
    assert _row(room)["version"] == 3


def test_it_bumps_version_and_updated_at_on_raw_sql():
    room = RoomFactory()
    before = _row(room)
    with connection.cursor() as cursor:
        # A client that even tries to set the version itself cannot move it anywhere else.
        cursor.execute(
            "UPDATE stayos_room SET housekeeping_status = 'dirty', version = 42 WHERE id = %s",
            [room.pk],
        )
        cursor.execute(
            "UPDATE stayos_room SET housekeeping_status = 'clean' WHERE id = %s", [room.pk]
        )
    after = _row(room)
    assert after["version"] == 3
    assert after["updated_at"] >= before["updated_at"]
    assert after["created_at"] == before["created_at"]


def test_it_generates_a_time_ordered_uuid_for_raw_inserts():
    room = RoomFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO stayos_room (property_id, room_type_id, number, floor,
                                     housekeeping_status, accessibility, notes)
            VALUES (%s, %s, '999', 9, 'clean', '{}', '') RETURNING id, version
            """,
            [room.property_id, room.room_type_id],
        )
        new_id, version = cursor.fetchone()
    assert new_id.version == 7
    assert version == 1
    # Time-ordered: the first 48 bits are the Unix time in milliseconds.
    assert abs((new_id.int >> 80) - time.time() * 1000) < 60_000
    assert (new_id.int >> 80) >= (room.pk.int >> 80)


def test_it_stamps_who_created_and_who_updated_from_the_context():
    creator, editor = UserFactory(), UserFactory()
    with context(user=creator):
        room = RoomFactory()
    with context(user=editor):
        Room.objects.filter(pk=room.pk).update(notes="Window latch fixed")
    row = Room.all_objects.get(pk=room.pk)
    assert row.created_by == creator
    assert row.updated_by == editor


def test_it_keeps_created_by_when_an_update_tries_to_rewrite_it():
    creator, other = UserFactory(), UserFactory()
    with context(user=creator):
        room = RoomFactory()
    Room.objects.filter(pk=room.pk).update(created_by=other)
    assert Room.all_objects.get(pk=room.pk).created_by == creator


def test_raw_sql_cannot_change_a_rows_id():
    from django.db import IntegrityError, transaction

    room = RoomFactory()
    with (
        pytest.raises(IntegrityError, match="never changes"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE stayos_room SET id = gen_random_uuid() WHERE id = %s", [room.pk])
