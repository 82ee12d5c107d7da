"""Nobody edits or deletes audit rows, seals or events, not even with raw SQL."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AuditSeal
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET reason = 'nothing to see'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE domain_event SET payload = '{}'",
        "DELETE FROM domain_event",
        "TRUNCATE domain_event",
        "UPDATE audit_seal SET seal = 'x'",
        "DELETE FROM audit_seal",
        "TRUNCATE audit_seal",
    ],
)
def test_it_refuses_to_change_append_only_tables(statement: str):
    RoomFactory()  # so there is a row to touch
    AuditSeal.objects.create(day="2026-01-01", row_count=0, rows_digest="a", seal="b")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO domain_event (name, aggregate_type, aggregate_id, payload)"
            " VALUES ('room.status_changed', 'stayos.room', gen_random_uuid(), '{}')"
        )
    before = _contents()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert _contents() == before


def _contents() -> dict[str, list]:
    """Every row of the append-only tables, as text."""
    with connection.cursor() as cursor:
        contents = {}
        for table in ("audit_log", "domain_event", "audit_seal"):
            cursor.execute(f"SELECT t::text FROM {table} t ORDER BY t::text")
            contents[table] = cursor.fetchall()
        assert all(contents.values())  # each has a row the statement could have touched
        return contents
