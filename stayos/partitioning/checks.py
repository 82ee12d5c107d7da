"""Health checks of the partitioned tables and the row triggers, for /monitoring/."""

from __future__ import annotations

import dataclasses
import itertools

import pgtrigger
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection

from stayos.partitioning.catalog import (
    configured_tables,
    month_start,
    partitions_being_built,
    table_status,
)
from stayos.partitioning.maintenance import PARTITION_TRUNCATE_TRIGGER

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
        half_built = list(partitions_being_built(table.table))
        checks.append(
            Check(
                f"{table.table}: no partition left half-built",
                not half_built,
                ", ".join(half_built) or "none",
            )
        )
        key = table.model._partitioning_meta.key[0]
        unguarded = _partitions_without_key_range(table.table, key)
        checks.append(
            Check(
                f"{table.table}: partition key range enforced",
                not unguarded,
                ", ".join(unguarded) or f"{table.table}_{key}_in_range on every partition",
            )
        )
        if pgtrigger.registered(f"{table.model._meta.label}:{PARTITION_TRUNCATE_TRIGGER}"):
            exposed = _partitions_without_truncate_guard(table.table)
            checks.append(
                Check(
                    f"{table.table}: every partition refuses TRUNCATE",
                    not exposed,
                    ", ".join(exposed) or "all guarded",
                )
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


def _partitions_without_key_range(table: str, key: str) -> list[str]:
    """The parent and partitions lacking audit.models.partition_key_in_range's constraint."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c
            WHERE (c.oid = %(table)s::regclass
                   OR c.oid IN (SELECT inhrelid FROM pg_inherits
                                WHERE inhparent = %(table)s::regclass))
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                              WHERE k.conrelid = c.oid AND k.conname = %(name)s
                                AND k.contype = 'c' AND k.convalidated)
            ORDER BY 1
            """,
            {"table": table, "name": f"{table}_{key}_in_range"},
        )
        return [name for (name,) in cursor.fetchall()]


def _partitions_without_truncate_guard(table: str) -> list[str]:
    """Partitions with no enabled TRUNCATE-refusing trigger (a disabled one counts as none)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT part.relname FROM pg_inherits
            JOIN pg_class part ON part.oid = inhrelid
            WHERE inhparent = %s::regclass AND NOT EXISTS (
                SELECT FROM pg_trigger
                WHERE tgrelid = part.oid AND tgname = %s AND tgenabled <> 'D')
            ORDER BY 1
            """,
            [table, PARTITION_TRUNCATE_TRIGGER],
        )
        return [name for (name,) in cursor.fetchall()]


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
