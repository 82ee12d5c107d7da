"""Nobody edits or deletes audit rows, seals or events, not even with raw SQL."""

from __future__ import annotations

import pgtrigger
import pytest
from dateutil.relativedelta import relativedelta
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from freezegun import freeze_time

from audit.models import AuditLog, AuditSeal
from stayos.partitioning.maintenance import maintain
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


def _partitions(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits"
            " WHERE inhparent = %s::regclass ORDER BY 1",
            [table],
        )
        return [name for (name,) in cursor.fetchall()]


def _assert_truncate_refused(partition: str) -> None:
    with (
        pytest.raises(DatabaseError, match="append-only table: TRUNCATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"TRUNCATE {partition}")


@pytest.mark.parametrize("table", ["audit_log", "domain_event"])
def test_it_refuses_to_truncate_any_partition_of_an_append_only_table(table: str):
    RoomFactory()
    partitions = _partitions(table)
    assert f"{table}_default" in partitions and len(partitions) > 1
    for partition in partitions:
        _assert_truncate_refused(partition)
    assert AuditLog.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_partition_made_later_refuses_truncate_too():
    RoomFactory()
    before = set(_partitions("audit_log"))
    with freeze_time(timezone.now() + relativedelta(years=2)):
        maintain(retention=False).raise_if_failed()
    made = sorted(set(_partitions("audit_log")) - before)
    assert made, "maintenance two years on creates that time's months"
    for partition in made:
        _assert_truncate_refused(partition)


def test_the_blessed_path_of_the_parent_goes_through_its_partitions():
    RoomFactory()
    with pgtrigger.ignore("audit.AuditLog:append_only_truncate"), connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_log")
    assert not AuditLog.objects.exists()
