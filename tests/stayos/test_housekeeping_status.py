"""Housekeepers marking rooms at the same time: every change recorded once, no deadlock."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from django.db import connection, transaction

from audit.models import AuditEntry, DomainEventEntry
from stayos import services
from stayos.models import Room
from tests.concurrency import run_concurrently
from tests.factories import RoomFactory, RoomTypeFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _dirty_rooms(count: int) -> list[Room]:
    room_type = RoomTypeFactory()
    rooms = RoomFactory.create_batch(
        count, room_type=room_type, property=room_type.property, housekeeping_status="dirty"
    )
    return sorted(rooms, key=lambda room: room.pk)


def _mark(rooms: list[Room], status: str, *, newest_first: bool):
    """One housekeeper's bulk action, the rooms listed in either order."""
    housekeeper = UserFactory()
    selected = Room.objects.filter(pk__in=[room.pk for room in rooms])
    selected = selected.order_by("-pk" if newest_first else "pk")
    return lambda: services.room_set_housekeeping_status(
        rooms=selected, status=status, actor=housekeeper
    )


def _status_changes(room: Room) -> list[tuple[str, str]]:
    """The room's housekeeping status changes as the audit log recorded them, in order."""
    entries = AuditEntry.objects.filter(
        table_name="stayos_room",
        row_id=room.pk,
        action="update",
        changed_fields__contains=["housekeeping_status"],
    ).order_by("id")
    return [(e.old["housekeeping_status"], e.new["housekeeping_status"]) for e in entries]


def _events(room: Room) -> int:
    return DomainEventEntry.objects.filter(
        name="room.status_changed", aggregate_id=room.pk
    ).count()


def test_two_housekeepers_marking_overlapping_rooms_clean_record_each_room_once():
    rooms = _dirty_rooms(12)
    outcomes = run_concurrently(
        _mark(rooms[:8], "clean", newest_first=False),
        _mark(rooms[4:], "clean", newest_first=True),
    )

    changed = [outcome.value() for outcome in outcomes]  # re-raises a deadlock, if any
    assert sum(changed) == 12  # the four rooms both selected count for one of them only
    assert set(Room.objects.values_list("housekeeping_status", flat=True)) == {"clean"}
    for room in rooms:
        assert _status_changes(room) == [("dirty", "clean")]
        assert _events(room) == 1


def test_two_housekeepers_setting_different_statuses_leave_a_consistent_trail():
    rooms = _dirty_rooms(12)
    outcomes = run_concurrently(
        _mark(rooms[:8], "clean", newest_first=True),
        _mark(rooms[4:], "inspected", newest_first=False),
    )

    changed = [outcome.value() for outcome in outcomes]
    assert changed == [8, 8]  # each found all its rooms still dirty or set by the other
    final = dict(Room.objects.values_list("pk", "housekeeping_status"))
    assert {final[room.pk] for room in rooms[:4]} == {"clean"}
    assert {final[room.pk] for room in rooms[8:]} == {"inspected"}
    # The shared rooms were marked one housekeeper after the other, never interleaved.
    [last_status] = {final[room.pk] for room in rooms[4:8]}
    for room in rooms:
        trail = _status_changes(room)
        # dirty → … → final status, each change starting where the one before ended.
        assert trail[0][0] == "dirty"
        assert all(before[1] == after[0] for before, after in itertools.pairwise(trail))
        assert trail[-1][1] == final[room.pk]
        assert _events(room) == len(trail)
    shared = [len(_status_changes(room)) for room in rooms[4:8]]
    assert shared == [2, 2, 2, 2]
    assert last_status in {"clean", "inspected"}


def _wait_until_blocked(backends: int, *, timeout: float = 30) -> None:
    """Return once ``backends`` other sessions wait for a row lock (a condition, not a delay)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Inside a transaction pg_stat_activity is a snapshot unless cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] >= backends:
                return
            time.sleep(0.005)
    raise AssertionError(f"{backends} sessions never queued for the held room")


def test_overlapping_rooms_given_in_opposite_orders_never_deadlock():
    # A third session holds a room both housekeepers selected, so both are sure to be
    # midway through locking their rooms when it lets go. Were the rooms locked in the order
    # each housekeeper listed them, one would now hold what the other waits for: deadlock.
    rooms = _dirty_rooms(12)
    held = threading.Event()
    first = _mark(rooms[:8], "clean", newest_first=False)
    second = _mark(rooms[4:], "inspected", newest_first=True)

    def hold_a_shared_room() -> None:
        with transaction.atomic():
            Room.objects.select_for_update().get(pk=rooms[6].pk)
            held.set()
            _wait_until_blocked(2)

    def after_the_hold(mark):
        return lambda: held.wait(timeout=30) and mark()

    outcomes = run_concurrently(hold_a_shared_room, after_the_hold(first), after_the_hold(second))

    assert [outcome.value() for outcome in outcomes] == [None, 8, 8]
    final = dict(Room.objects.values_list("pk", "housekeeping_status"))
    [last_status] = {final[room.pk] for room in rooms[4:8]}
    assert last_status in {"clean", "inspected"}
