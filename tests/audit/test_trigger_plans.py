"""The statement-level audit insert is planned for the rows it really gets.

PL/pgSQL keeps a static statement's plan for the session: planned at a first, one-row
UPDATE, the join of the old and new transition tables becomes a nested loop, and a later
bulk UPDATE on the same connection turns quadratic (minutes for 100k rows). The plans are
read from auto_explain, not timed.
"""

from __future__ import annotations

import pytest
from django.db import connection

from stayos.models import Room
from tests.factories import RoomTypeFactory

pytestmark = pytest.mark.django_db


def test_a_bulk_update_after_a_single_row_update_gets_a_plan_for_its_size():
    room_type = RoomTypeFactory()
    Room.objects.bulk_create(
        Room(property=room_type.property, room_type=room_type, number=str(n), floor=1)
        for n in range(400)
    )
    first = Room.objects.values_list("pk", flat=True).first()
    notices: list[str] = []
    raw = connection.connection

    def handler(diagnostic) -> None:
        notices.append(diagnostic.message_primary)

    raw.add_notice_handler(handler)
    try:
        with connection.cursor() as cursor:
            cursor.execute("LOAD 'auto_explain'")
            cursor.execute("SET LOCAL auto_explain.log_min_duration = 0")
            cursor.execute("SET LOCAL auto_explain.log_nested_statements = on")
            cursor.execute("SET LOCAL auto_explain.log_level = notice")
            cursor.execute("UPDATE stayos_room SET floor = 2 WHERE id = %s", [first])
            notices.clear()
            cursor.execute("UPDATE stayos_room SET floor = 3")
    finally:
        raw.remove_notice_handler(handler)
    [plan] = [n for n in notices if "INSERT INTO audit_log" in n]
    assert "Hash Join" in plan or "Merge Join" in plan, plan
    assert Room.objects.filter(floor=3).count() == 400
