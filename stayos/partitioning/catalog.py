"""What partitions exist: bounds, size, rows, read from the PostgreSQL catalog."""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import TYPE_CHECKING

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from config.partitioning import PartitionedTable

# On a month maintenance is still filling (stayos.partitioning.maintenance), with its parent's
# name after it: the table is not a partition yet, and its rows are not visible through the
# parent until it is attached.
BEING_BUILT_COMMENT = "stayos_partition_being_built"

_BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclasses.dataclass(frozen=True)
class Partition:
    name: str
    start: datetime.datetime | None  # None for the DEFAULT partition
    end: datetime.datetime | None
    rows_estimate: int
    bytes: int

    @property
    def is_default(self) -> bool:
        return self.start is None


def _parse(value: str) -> datetime.datetime:
    # timestamptz literals as PostgreSQL prints them in a UTC session: '2026-11-01 00:00:00+00'
    parsed = datetime.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def table_partitions(table: str) -> list[Partition]:
    """The partitions of ``table``, ranges in order, DEFAULT last."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, pg_get_expr(c.relpartbound, c.oid),
                   greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = %s::regclass
            """,
            [table],
        )
        rows = cursor.fetchall()
    partitions = []
    for name, bound, rows_estimate, size in rows:
        if bound is None:  # being detached by a concurrent maintenance run
            continue
        match = _BOUNDS.search(bound)
        start, end = (_parse(match[1]), _parse(match[2])) if match else (None, None)
        partitions.append(Partition(name, start, end, rows_estimate, size))
    return sorted(
        partitions,
        key=lambda p: (
            p.is_default,
            p.start or datetime.datetime.max.replace(tzinfo=datetime.UTC),
        ),
    )


def being_built_comment(table: str, start: datetime.datetime) -> str:
    return f"{BEING_BUILT_COMMENT} {table} {start.astimezone(datetime.UTC):%Y-%m-%d}"


def partitions_being_built(table: str) -> dict[str, datetime.datetime]:
    """Months of ``table`` an interrupted maintenance run left half-built, by name → start.

    The next run resumes them.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, obj_description(oid, 'pg_class') FROM pg_class"
            " WHERE relkind = 'r' AND NOT relispartition"
            " AND obj_description(oid, 'pg_class') LIKE %s ORDER BY relname",
            [f"{BEING_BUILT_COMMENT} {table} %"],
        )
        return {
            name: datetime.datetime.fromisoformat(comment.rsplit(" ", 1)[1]).replace(
                tzinfo=datetime.UTC
            )
            for name, comment in cursor.fetchall()
        }


def month_start(moment: datetime.datetime | None = None) -> datetime.datetime:
    moment = (moment or timezone.now()).astimezone(datetime.UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def retention_cutoff(table: PartitionedTable) -> datetime.datetime:
    """Partitions ending at or before this instant are past retention."""
    return month_start() - relativedelta(months=table.retention_months)


def covered_until(partitions: list[Partition]) -> datetime.datetime | None:
    """End of the contiguous run of partitions that contains this month, if any."""
    now = timezone.now()
    ranges = [p for p in partitions if not p.is_default]
    current = next((p for p in ranges if p.start <= now < p.end), None)
    if current is None:
        return None
    end = current.end
    for partition in ranges:
        if partition.start == end:
            end = partition.end
    return end


def months_ahead(partitions: list[Partition]) -> int:
    """Whole months covered after the current one."""
    end = covered_until(partitions)
    if end is None:
        return -1
    delta = relativedelta(end, month_start())
    return delta.years * 12 + delta.months - 1


def default_rows(partitions: list[Partition]) -> int:
    """Exact row count of the DEFAULT partition (it should be empty; counting it is cheap)."""
    default = next((p for p in partitions if p.is_default), None)
    if default is None:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{default.name}"')
        return cursor.fetchone()[0]


@dataclasses.dataclass(frozen=True)
class TableStatus:
    """One partitioned table as the status command, the metrics and the checks see it."""

    table: PartitionedTable
    partitions: list[Partition]
    covered_until: datetime.datetime | None
    months_ahead: int
    default_rows: int
    retention_cutoff: datetime.datetime

    @property
    def ranges(self) -> list[Partition]:
        return [p for p in self.partitions if not p.is_default]

    def past_retention(self, partition: Partition) -> bool:
        return not partition.is_default and partition.end <= self.retention_cutoff


def table_status(table: PartitionedTable) -> TableStatus:
    partitions = table_partitions(table.table)
    return TableStatus(
        table=table,
        partitions=partitions,
        covered_until=covered_until(partitions),
        months_ahead=months_ahead(partitions),
        default_rows=default_rows(partitions),
        retention_cutoff=retention_cutoff(table),
    )


def configured_tables(name: str | None = None) -> list[PartitionedTable]:
    """The partitioned tables configured in config/ (found through settings), or one of them."""
    tables = list(import_string(settings.PARTITIONED_TABLES))
    if name is None:
        return tables
    matches = [t for t in tables if t.table == name]
    if not matches:
        known = ", ".join(t.table for t in tables)
        raise LookupError(f"“{name}” is not a partitioned table (known: {known}).")
    return matches
