"""Health checks of the partitioned tables and the row triggers, for /monitoring/."""

from __future__ import annotations

import dataclasses
import itertools

import pgtrigger
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection

from stayos.partitioning.catalog import configured_tables, month_start, table_status

# Every audited table must carry these (stayos.triggers.row_triggers).
REQUIRED_TRIGGERS = ("bump_version", "audit_insert", "audit_update", "audit_delete")


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def partition_checks() -> list[Check]:
    checks = []
    for table in configured_tables():
        status = table_status(table)
        ahead = status.months_ahead
        wanted = settings.PARTITIONS_MONTHS_AHEAD
        checks.append(
            Check(
                f"{table.table}: coverage ahead",
                ahead >= wanted,
                f"{ahead} month(s) ahead, {wanted} wanted"
                if ahead >= 0
                else "no partition for the current month",
            )
        )
        horizon = month_start() + relativedelta(months=wanted + 1)
        ranges = [p for p in status.ranges if p.start < horizon]
        gaps = [
            f"{before.end:%Y-%m-%d} → {after.start:%Y-%m-%d}"
            for before, after in itertools.pairwise(ranges)
            if before.end != after.start
        ]
        checks.append(Check(f"{table.table}: no gaps", not gaps, ", ".join(gaps) or "contiguous"))
        stray = status.default_rows
        checks.append(
            Check(f"{table.table}: default partition empty", stray == 0, f"{stray} row(s)")
        )
        missing = _partitions_missing_indexes(table.table)
        checks.append(
            Check(
                f"{table.table}: partitions have the parent's indexes",
                not missing,
                ", ".join(missing) or "all present",
            )
        )
    checks.append(_trigger_check())
    return checks


def _partitions_missing_indexes(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT parent_index.indexrelid::regclass::text, part.relname
            FROM pg_index parent_index
            JOIN pg_inherits inh ON inh.inhparent = parent_index.indrelid
            JOIN pg_class part ON part.oid = inh.inhrelid
            WHERE parent_index.indrelid = %s::regclass
              AND NOT EXISTS (
                  SELECT 1 FROM pg_inherits child
                  JOIN pg_index child_index ON child_index.indexrelid = child.inhrelid
                  WHERE child.inhparent = parent_index.indexrelid
                    AND child_index.indrelid = part.oid)
            ORDER BY 1, 2
            """,
            [table],
        )
        return [f"{partition} lacks {index}" for index, partition in cursor.fetchall()]


def _trigger_check() -> Check:
    expected = {
        (model._meta.db_table, trigger.get_pgid(model))
        for model, trigger in pgtrigger.registered()
        if trigger.name in REQUIRED_TRIGGERS
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND t.tgenabled <> 'D'"
        )
        installed = set(cursor.fetchall())
    missing = sorted(f"{table}.{name}" for table, name in expected - installed)
    tables = len({table for table, _ in expected})
    return Check(
        "audited tables have their version and audit triggers",
        not missing,
        ", ".join(missing) or f"{tables} table(s), all installed and enabled",
    )
