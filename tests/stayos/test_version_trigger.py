"""The bump_version / stamp_insert triggers own version and who/when, whatever the path."""

from __future__ import annotations

import datetime
import uuid

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


def test_it_bumps_version_on_raw_sql_even_when_the_client_sets_it():
    room = RoomFactory()
    with connection.cursor() as cursor:
        # A client that even tries to set the version itself cannot move it anywhere else.
        cursor.execute(
            "UPDATE stayos_room SET housekeeping_status = 'dirty', version = 42 WHERE id = %s",
            [room.pk],
        )
        cursor.execute(
            "UPDATE stayos_room SET housekeeping_status = 'clean' WHERE id = %s", [room.pk]
        )
    assert _row(room)["version"] == 3


LONG_AGO = datetime.datetime(2020, 1, 1, 12, tzinfo=datetime.UTC)


def _room_created_long_ago() -> Room:
    """A room whose created_at/updated_at lie in 2020 (an import may name the original time).

    Inside a test's transaction now() never moves, so only a row stamped at another time can
    show whether an update re-stamps updated_at.
    """
    template = RoomFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO stayos_room (property_id, room_type_id, number, floor,"
            " housekeeping_status, accessibility, notes, created_at)"
            " VALUES (%s, %s, '900', 9, 'clean', '{}', '', %s) RETURNING id",
            [template.property_id, template.room_type_id, LONG_AGO],
        )
        (room_id,) = cursor.fetchone()
    room = Room.all_objects.get(pk=room_id)
    assert (room.created_at, room.updated_at) == (LONG_AGO, LONG_AGO)
    return room


def _raw_update(room: Room) -> None:
    with connection.cursor() as cursor:
        # The client's own updated_at and created_at are overridden, not stored.
        cursor.execute(
            "UPDATE stayos_room SET notes = 'raw', updated_at = '1999-01-01',"
            " created_at = '1999-01-01' WHERE id = %s",
            [room.pk],
        )


def _orm_save(room: Room) -> None:
    room.notes = "orm"
    room.save()


def _queryset_update(room: Room) -> None:
    Room.objects.filter(pk=room.pk).update(notes="update()")


@pytest.mark.parametrize("write", [_orm_save, _queryset_update, _raw_update])
def test_every_update_stamps_updated_at_with_its_transaction_time(write):
    room = _room_created_long_ago()
    write(room)
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        (transaction_time,) = cursor.fetchone()
    row = _row(room)
    assert row["updated_at"] == transaction_time
    assert row["created_at"] == LONG_AGO
    assert row["version"] == 2


def _clock() -> datetime.datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def _milliseconds(value: uuid.UUID | datetime.datetime) -> int:
    if isinstance(value, uuid.UUID):
        return value.int >> 80  # the first 48 bits: Unix time in milliseconds
    return (value - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)) // MILLISECOND


MILLISECOND = datetime.timedelta(milliseconds=1)


def _is_uuid7(value: uuid.UUID) -> bool:
    return value.version == 7 and value.variant == uuid.RFC_4122


def test_a_raw_insert_gets_a_uuid7_stamped_with_the_time_it_was_made():
    room = RoomFactory()
    before = _clock()
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
    after = _clock()
    assert _is_uuid7(new_id)
    assert version == 1
    assert _milliseconds(before) <= _milliseconds(new_id) <= _milliseconds(after)


def test_raw_inserts_of_one_session_get_strictly_increasing_ids():
    # Thousands of ids fall in one millisecond here: the order inside it must hold too.
    room = RoomFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO stayos_room (property_id, room_type_id, number, floor,
                                     housekeeping_status, accessibility, notes)
            SELECT %s, %s, 'R' || n, 1, 'clean', '{}', '' FROM generate_series(1, 2000) AS n
            """,
            [room.property_id, room.room_type_id],
        )
        cursor.execute(
            "INSERT INTO stayos_room (property_id, room_type_id, number, floor,"
            " housekeeping_status, accessibility, notes) VALUES (%s, %s, 'R2001', 1, 'clean',"
            " '{}', '')",
            [room.property_id, room.room_type_id],
        )
    made = [
        row_id
        for _, row_id in sorted(
            (int(number[1:]), row_id)
            for number, row_id in Room.objects.filter(number__startswith="R").values_list(
                "number", "pk"
            )
        )
    ]
    assert len(made) == 2001
    assert all(_is_uuid7(row_id) for row_id in made)
    assert made == sorted(set(made))  # strictly increasing


def test_ids_made_by_the_orm_in_one_process_strictly_increase():
    # Across sources (this process, PostgreSQL, another worker) ids only sort to the
    # millisecond, and uuid6 may run a few ms ahead of the clock: never compare those.
    rooms = RoomFactory.create_batch(50)
    assert all(_is_uuid7(room.pk) for room in rooms)
    made = [room.pk for room in rooms]
    assert made == sorted(set(made))  # strictly increasing


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
