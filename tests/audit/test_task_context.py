"""Celery tasks write under their own name, so the audit log says which job changed what."""

from __future__ import annotations

import pytest
from celery import shared_task

from audit.models import AuditEntry
from stayos.models import Room
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db


@shared_task(name="tests.mark_room_dirty")
def mark_room_dirty(room_id: str) -> None:
    Room.objects.filter(pk=room_id).update(housekeeping_status="dirty")


def test_a_task_stamps_its_name_on_the_audit_rows():
    room = RoomFactory(housekeeping_status="clean")
    mark_room_dirty.apply(args=[str(room.pk)])
    entry = AuditEntry.objects.get(row_id=room.pk, action="update")
    assert entry.source == "task:tests.mark_room_dirty"
    assert entry.request_id  # the task id, to find the run in the worker's log
