"""No row gets a partition key that would poison partition maintenance, not even by raw SQL."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from stayos.partitioning.catalog import configured_tables
from stayos.partitioning.checks import partition_checks
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db

INSERTS = {
    "audit_log": (
        "INSERT INTO audit_log (occurred_at, table_name, row_id, action, changed_fields,"
        " transaction_id) VALUES (%s, 'stayos_room', gen_random_uuid(), 'insert', '{}', 1)"
    ),
    "domain_event": (
        "INSERT INTO domain_event (occurred_at, name, aggregate_type, aggregate_id, payload)"
        " VALUES (%s, 'room.status_changed', 'stayos.room', gen_random_uuid(), '{}')"
    ),
}


@pytest.mark.parametrize("table", sorted(INSERTS))
@pytest.mark.parametrize(
    "when",
    [
        "infinity",
        "-infinity",
        "9999-12-31 23:59:59+00",
        "2100-01-01 00:00:00+00",
        "1900-01-01 00:00:00+00",
        "1999-12-31 23:59:59.999999+00",
    ],
)
def test_it_refuses_a_partition_key_outside_the_sane_range(table: str, when: str):
    with (
        pytest.raises(IntegrityError, match=f"{table}_occurred_at_in_range"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(INSERTS[table], [when])


@pytest.mark.parametrize("table", sorted(INSERTS))
def test_it_accepts_the_edges_of_the_range(table: str):
    with connection.cursor() as cursor:
        for when in ("2000-01-01 00:00:00+00", "2099-12-31 23:59:59.999999+00"):
            cursor.execute(INSERTS[table], [when])


def test_rows_the_database_stamps_are_inside_the_range():
    RoomFactory()  # an audit row, stamped now() by the trigger
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_log")
        assert cursor.fetchone()[0] >= 1


def test_every_configured_table_and_each_partition_carries_the_constraint():
    tables = {table.table for table in configured_tables()}
    checks = {c.name: c for c in partition_checks() if c.name.endswith("key range enforced")}
    assert set(checks) == {f"{table}: partition key range enforced" for table in tables}
    assert all(check.ok for check in checks.values()), checks
