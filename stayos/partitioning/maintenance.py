"""Nightly partition maintenance: create ahead, sweep DEFAULT, archive then drop past retention.

Each step is one transaction with a short ``lock_timeout`` (a step that cannot get its lock
gives up and is retried the next night instead of queueing the front desk behind it), and
the whole run holds an advisory lock, so two runs at once cannot interleave.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import pgtrigger
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection, transaction
from psqlextra.partitioning import PostgresTimePartition, PostgresTimePartitionSize
from psqlextra.partitioning.constants import AUTO_PARTITIONED_COMMENT
from psycopg import sql

from stayos.partitioning.archive import archive_partition
from stayos.partitioning.catalog import (
    Partition,
    configured_tables,
    month_start,
    retention_cutoff,
    table_partitions,
)

if TYPE_CHECKING:
    from config.partitioning import PartitionedTable

logger = logging.getLogger(__name__)

MAINTENANCE_LOCK_KEY = 0x57A7_0005
MONTH = PostgresTimePartitionSize(months=1)


@dataclasses.dataclass
class Step:
    table: str
    kind: str  # "create" | "sweep" | "archive"
    partition: str
    start: datetime.datetime | None = None
    end: datetime.datetime | None = None
    rows: int = 0
    detail: str = ""

    def describe(self) -> str:
        span = f" [{self.start:%Y-%m-%d} → {self.end:%Y-%m-%d})" if self.start else ""
        if self.kind == "create":
            return f"{self.table}: create {self.partition}{span}"
        if self.kind == "sweep":
            return f"{self.table}: sweep {self.rows} row(s) out of {self.partition}{self.detail}"
        return (
            f"{self.table}: archive then drop {self.partition}{span}, ~{self.rows} row(s),"
            f" {self.detail}"
        )


@dataclasses.dataclass
class Result:
    skipped: bool = False
    steps: list[Step] = dataclasses.field(default_factory=list)
    applied: list[str] = dataclasses.field(default_factory=list)
    archives: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> dict:
        return {"skipped": self.skipped, "applied": self.applied, "archives": self.archives}


def _partition_name(table: str, start: datetime.datetime) -> str:
    naive = start.astimezone(datetime.UTC).replace(tzinfo=None)
    return f"{table}_{PostgresTimePartition(start_datetime=naive, size=MONTH).name()}"


def _months_wanted() -> list[datetime.datetime]:
    """This month and the months ahead the configuration asks for."""
    first = month_start()
    return [first + relativedelta(months=n) for n in range(settings.PARTITIONS_MONTHS_AHEAD + 1)]


def _stray_months(default: Partition, key: str) -> dict[datetime.datetime, int]:
    query = sql.SQL(
        "SELECT date_trunc('month', {key} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*)"
        " FROM {default} GROUP BY 1"
    ).format(key=sql.Identifier(key), default=sql.Identifier(default.name))
    with connection.cursor() as cursor:
        cursor.execute(query.as_string(cursor.connection))
        return dict(cursor.fetchall())


def _migrated_tables(table_name: str | None):
    existing = set(connection.introspection.table_names())
    return [t for t in configured_tables(table_name) if t.table in existing]


def plan(*, table_name: str | None = None, retention: bool = True) -> list[Step]:
    """What maintenance would do now, table by table; changes nothing."""
    steps: list[Step] = []
    for table in _migrated_tables(table_name):
        partitions = table_partitions(table.table)
        default = next((p for p in partitions if p.is_default), None)
        key = table.model._partitioning_meta.key[0]
        stray = _stray_months(default, key) if default else {}
        if stray:
            targets = ", ".join(_partition_name(table.table, start) for start in sorted(stray))
            steps.append(
                Step(
                    table.table,
                    "sweep",
                    default.name,
                    rows=sum(stray.values()),
                    detail=f" into {targets}",
                )
            )
        covered = {p.start for p in partitions if not p.is_default}
        for start in sorted(set(_months_wanted()) | set(stray)):
            if start in covered:
                continue
            steps.append(
                Step(
                    table.table,
                    "create",
                    _partition_name(table.table, start),
                    start,
                    start + relativedelta(months=1),
                )
            )
        if retention:
            steps.extend(_archive_steps(table, partitions))
    return steps


def _archive_steps(table: PartitionedTable, partitions: list[Partition]) -> list[Step]:
    """Partitions wholly older than the table's retention."""
    cutoff = retention_cutoff(table)
    return [
        Step(
            table.table,
            "archive",
            partition.name,
            partition.start,
            partition.end,
            rows=partition.rows_estimate,
            detail=f"past {table.retention_months}-month retention"
            f" (keeps data from {cutoff:%Y-%m-%d})",
        )
        for partition in partitions
        if not partition.is_default and partition.end <= cutoff
    ]


def maintain(
    *, table_name: str | None = None, dry_run: bool = False, retention: bool = True
) -> Result:
    """Bring every partitioned table in line with its configuration (see module docstring)."""
    if dry_run:
        return Result(steps=plan(table_name=table_name, retention=retention))
    result = Result()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [MAINTENANCE_LOCK_KEY])
        if not cursor.fetchone()[0]:
            result.skipped = True
            return result
    try:
        # Plan under the lock: another run may have just done part of the work.
        result.steps = plan(table_name=table_name, retention=retention)
        for table in _migrated_tables(table_name):
            _create_and_sweep(table, [s for s in result.steps if s.table == table.table], result)
            if not retention:
                continue
            # Listed after the sweep, so stray rows already past retention leave tonight.
            for step in _archive_steps(table, table_partitions(table.table)):
                _archive_and_drop(table, step, result)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MAINTENANCE_LOCK_KEY])
    return result


def _set_lock_timeout() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, true)", [settings.PARTITIONS_LOCK_TIMEOUT]
        )


def _create_and_sweep(table, steps: list[Step], result: Result) -> None:
    creations = [s for s in steps if s.kind == "create"]
    sweep = next((s for s in steps if s.kind == "sweep"), None)
    if not creations and not sweep:
        return
    model = table.model
    quoted = sql.Identifier(table.table)
    with transaction.atomic():
        _set_lock_timeout()
        if sweep:
            # A partition cannot be created over rows already sitting in DEFAULT: take DEFAULT
            # out, create, move its rows in through the parent, then put a fresh DEFAULT back.
            stray = sql.Identifier(f"{sweep.partition}_sweep")
            with connection.cursor() as cursor:
                for statement in (
                    sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                        quoted, sql.Identifier(sweep.partition)
                    ),
                    sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                        sql.Identifier(sweep.partition), stray
                    ),
                ):
                    cursor.execute(statement.as_string(cursor.connection))
        with connection.schema_editor() as editor:
            for step in creations:
                naive = step.start.astimezone(datetime.UTC).replace(tzinfo=None)
                PostgresTimePartition(start_datetime=naive, size=MONTH).create(
                    model, editor, comment=AUTO_PARTITIONED_COMMENT
                )
                result.applied.append(step.describe())
        if sweep:
            # Moving rows is not a change anyone made: keep the audit triggers out of it.
            audit_triggers = [
                f"{model._meta.label}:{t.name}"
                for t in getattr(model._meta, "triggers", [])
                if t.name.startswith("audit_")
            ]
            with pgtrigger.ignore(*audit_triggers), connection.cursor() as cursor:
                cursor.execute(
                    sql.SQL("INSERT INTO {} SELECT * FROM {}")
                    .format(quoted, stray)
                    .as_string(cursor.connection)
                )
                cursor.execute(sql.SQL("DROP TABLE {}").format(stray).as_string(cursor.connection))
            with connection.schema_editor() as editor:
                editor.add_default_partition(model, "default")
            result.applied.append(sweep.describe())
    logger.info(
        "partitions: %s", "; ".join(step.describe() for step in [*creations, sweep] if step)
    )


def _archive_and_drop(table, step: Step, result: Result) -> None:
    if step.end > retention_cutoff(table):  # never inside retention, whatever the plan said
        raise AssertionError(f"{step.partition} is inside retention; refusing to drop it")
    key = table.model._partitioning_meta.key[0]
    partition = sql.Identifier(step.partition)
    with transaction.atomic():
        _set_lock_timeout()
        with connection.cursor() as cursor:
            # Nothing can be written to it while it is copied, so the archive is exactly
            # what gets dropped.
            cursor.execute(
                sql.SQL("LOCK TABLE {} IN SHARE MODE")
                .format(partition)
                .as_string(cursor.connection)
            )
        manifest_path, manifest = archive_partition(
            table=table.table,
            partition=step.partition,
            start=step.start,
            end=step.end,
            order_by=[key, "id"],
            directory=Path(settings.ARCHIVE_DIR),
        )
        with connection.cursor() as cursor:
            for statement in (
                sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                    sql.Identifier(table.table), partition
                ),
                sql.SQL("DROP TABLE {}").format(partition),
            ):
                cursor.execute(statement.as_string(cursor.connection))
    result.archives.append(str(manifest_path))
    result.applied.append(f"{step.describe()}: {manifest.rows} row(s) archived")
    logger.info("partitions: archived and dropped %s (%s rows)", step.partition, manifest.rows)


def create_partitions_after_migrate(sender, using: str = "default", **kwargs) -> None:
    """post_migrate: partitions are in place before anything writes to a partitioned table.

    Creates and sweeps only; archiving and dropping wait for the nightly run.
    """
    maintain(retention=False)
