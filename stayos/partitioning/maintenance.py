"""Nightly partition maintenance: create ahead, sweep DEFAULT, archive then drop past retention.

Each table is maintained and reported on its own: one that fails (a lock it cannot get, a
name already taken) is listed as failed and the others are still maintained. The whole run
holds an advisory lock, so two runs at once cannot interleave.

No step makes the application's writes wait longer than ``PARTITIONS_LOCK_TIMEOUT``. A new
month is never created with ``CREATE TABLE … PARTITION OF`` (ACCESS EXCLUSIVE on the parent,
and a scan of DEFAULT under it): it is built as a standalone table shaped like the parent,
with a CHECK constraint matching its range, filled with DEFAULT's rows of that month in short
batches (each a DELETE … RETURNING into it, locking nothing a writer needs), and then
attached. ATTACH takes only SHARE UPDATE EXCLUSIVE on the parent, which INSERT/UPDATE/DELETE
do not conflict with; the CHECK constraint spares it a scan of the new table; it still scans
DEFAULT (ACCESS EXCLUSIVE on DEFAULT alone, which a write only needs for a row dated outside
every partition). Each transaction runs with ``lock_timeout = PARTITIONS_LOCK_TIMEOUT``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pgtrigger
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from psqlextra.partitioning import PostgresTimePartition, PostgresTimePartitionSize
from psqlextra.partitioning.constants import AUTO_PARTITIONED_COMMENT
from psycopg import sql

from audit.jobs import JobFailed, JobLock
from stayos.partitioning.archive import archive_partition
from stayos.partitioning.catalog import (
    Partition,
    being_built_comment,
    configured_tables,
    month_start,
    partitions_being_built,
    retention_cutoff,
    table_partitions,
)

if TYPE_CHECKING:
    from config.partitioning import PartitionedTable

logger = logging.getLogger(__name__)

MAINTENANCE_LOCK_KEY = 0x57A7_0005
# Every run of these jobs holds the lock while it runs (audit.jobs.JobLock).
MAINTENANCE_LOCK = JobLock(
    key=MAINTENANCE_LOCK_KEY,
    jobs=("task:stayos.tasks.maintain_partitions", "command:partitions maintain"),
)
MONTH = PostgresTimePartitionSize(months=1)


class PartitionError(Exception):
    """The catalog is not as maintenance expects it; a person has to look."""


class MaintenanceFailed(JobFailed):
    """At least one table could not be maintained; the others were."""


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
            return f"{self.table}: create {self.partition}{span}{self.detail}"
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
    # table → "ok" or "failed: <error>", in the order the tables were maintained
    tables: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def failed(self) -> dict[str, str]:
        """Table → error, for the tables that could not be maintained."""
        return {
            table: status.removeprefix("failed: ")
            for table, status in self.tables.items()
            if status != "ok"
        }

    def summary(self) -> dict:
        return {
            "skipped": self.skipped,
            "applied": self.applied,
            "archives": self.archives,
            "tables": self.tables,
            "failed": sorted(self.failed),
        }

    def raise_if_failed(self) -> None:
        if self.failed:
            errors = "; ".join(f"{table}: {error}" for table, error in self.failed.items())
            raise MaintenanceFailed(errors, self.summary())


def _partition_name(table: str, start: datetime.datetime) -> str:
    naive = start.astimezone(datetime.UTC).replace(tzinfo=None)
    return f"{table}_{PostgresTimePartition(start_datetime=naive, size=MONTH).name()}"


def _months_wanted() -> list[datetime.datetime]:
    """This month and the months ahead the configuration asks for."""
    first = month_start()
    return [first + relativedelta(months=n) for n in range(settings.PARTITIONS_MONTHS_AHEAD + 1)]


def _key(table: PartitionedTable) -> str:
    return table.model._partitioning_meta.key[0]


def _stray_months(default: Partition, key: str) -> dict[datetime.datetime, int]:
    query = sql.SQL(
        "SELECT date_trunc('month', {key} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*)"
        " FROM {default} GROUP BY 1"
    ).format(key=sql.Identifier(key), default=sql.Identifier(default.name))
    with connection.cursor() as cursor:
        cursor.execute(query.as_string(cursor.connection))
        return dict(cursor.fetchall())


def _migrated_tables(table_name: str | None) -> list[PartitionedTable]:
    existing = set(connection.introspection.table_names())
    return [t for t in configured_tables(table_name) if t.table in existing]


def plan_table(table: PartitionedTable, *, retention: bool = True) -> list[Step]:
    """What maintenance would do to one table now; changes nothing."""
    steps: list[Step] = []
    partitions = table_partitions(table.table)
    default = next((p for p in partitions if p.is_default), None)
    stray = _stray_months(default, _key(table)) if default else {}
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
    # A month an interrupted run left half-built holds rows already moved out of DEFAULT.
    resumed = set(partitions_being_built(table.table).values())
    for start in sorted(set(_months_wanted()) | set(stray) | resumed):
        if start in covered:
            continue
        steps.append(
            Step(
                table.table,
                "create",
                _partition_name(table.table, start),
                start,
                start + relativedelta(months=1),
                detail=" (resumed)" if start in resumed else "",
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
    """Bring every partitioned table in line with its configuration (see module docstring).

    A table that fails is listed in ``result.failed`` and the next table is maintained all
    the same; ``result.raise_if_failed()`` turns that into an error for the caller.
    """
    result = Result()
    if dry_run:
        for table in _migrated_tables(table_name):
            with _table_outcome(table, result), transaction.atomic():
                result.steps.extend(plan_table(table, retention=retention))
        return result
    with connection.cursor() as cursor:
        # Re-entrant: a job_run(lock=MAINTENANCE_LOCK) around this call holds it already.
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [MAINTENANCE_LOCK_KEY])
        if not cursor.fetchone()[0]:
            result.skipped = True
            return result
    try:
        for table in _migrated_tables(table_name):
            with _table_outcome(table, result):
                _maintain_table(table, retention=retention, result=result)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MAINTENANCE_LOCK_KEY])
    return result


@contextlib.contextmanager
def _table_outcome(table: PartitionedTable, result: Result) -> Iterator[None]:
    """Record one table's outcome in ``result``; an error stops this table only."""
    try:
        yield
    except Exception as error:
        logger.exception("partitions: %s failed", table.table)
        # psycopg's class says more than Django's wrapper (LockNotAvailable, not
        # OperationalError).
        cause = error.__cause__ if isinstance(error, DatabaseError) and error.__cause__ else error
        result.tables[table.table] = f"failed: {type(cause).__name__}: {error}"
    else:
        result.tables[table.table] = "ok"


def _maintain_table(table: PartitionedTable, *, retention: bool, result: Result) -> None:
    # Plan under the lock: another run may have just done part of the work. In a savepoint
    # when called inside a transaction, so that a failure here leaves it usable.
    with transaction.atomic():
        steps = plan_table(table, retention=False)
    result.steps.extend(steps)
    sweep = next((s for s in steps if s.kind == "sweep"), None)
    for step in steps:
        if step.kind == "create":
            moved = _build_partition(table, step)
            result.applied.append(step.describe())
            logger.info("partitions: %s (%s row(s) from DEFAULT)", step.describe(), moved)
    if sweep:
        result.applied.append(sweep.describe())
    guarded = _refuse_truncate_on_partitions(table)
    if guarded:
        result.applied.append(f"{table.table}: TRUNCATE refused on {', '.join(guarded)}")
    if not retention:
        return
    # Listed after the sweep, so stray rows already past retention leave tonight.
    with transaction.atomic():
        due = _archive_steps(table, table_partitions(table.table))
    result.steps.extend(due)
    for step in due:
        _archive_and_drop(table, step, result)


# PostgreSQL runs a partitioned table's TRUNCATE triggers only for a TRUNCATE of the parent;
# ``TRUNCATE audit_log_2026_dec`` goes past them. So every partition carries its own, which
# obeys the same pgtrigger.ignore as the parent's (the tests' flush), by the parent's id.
PARTITION_TRUNCATE_TRIGGER = "append_only_truncate"


def _refuse_truncate_on_partitions(table: PartitionedTable) -> list[str]:
    """Give each partition of an append-only table a TRUNCATE-refusing trigger; returns
    the partitions that lacked it."""
    registered = pgtrigger.registered(f"{table.model._meta.label}:{PARTITION_TRUNCATE_TRIGGER}")
    if not registered:
        return []
    ((model, parent_trigger),) = registered
    with transaction.atomic():
        _set_lock_timeout()
        missing = [
            name
            for (name,) in _execute(
                sql.SQL(
                    "SELECT child.relname FROM pg_inherits"
                    " JOIN pg_class child ON child.oid = inhrelid"
                    " WHERE inhparent = {}::regclass AND NOT EXISTS ("
                    "  SELECT FROM pg_trigger WHERE tgrelid = child.oid AND tgname = {})"
                    " ORDER BY child.relname"
                ).format(sql.Literal(table.table), sql.Literal(PARTITION_TRUNCATE_TRIGGER))
            )
        ]
        for name in missing:
            _execute(
                sql.SQL(
                    "CREATE TRIGGER {} BEFORE TRUNCATE ON {} FOR EACH STATEMENT"
                    " EXECUTE FUNCTION audit_refuse_partition_truncate({})"
                ).format(
                    sql.Identifier(PARTITION_TRUNCATE_TRIGGER),
                    sql.Identifier(name),
                    sql.Literal(parent_trigger.get_pgid(model)),
                )
            )
    return missing


def _set_lock_timeout() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, true)", [settings.PARTITIONS_LOCK_TIMEOUT]
        )


def _execute(statement: sql.Composable, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(cursor.connection), params)
        return cursor.fetchall() if cursor.description else []


def _build_partition(table: PartitionedTable, step: Step) -> int:
    """Create the month ``step`` names, with DEFAULT's rows of that month; returns how many.

    Three kinds of short transaction (see the module docstring): build the standalone
    table, move rows into it a batch at a time, attach it. A run interrupted between them
    leaves the table marked as being built (``catalog.being_built_comment``); the next run
    resumes it.
    Until it is attached, the rows already moved are not visible through the parent.
    """
    parent, name = sql.Identifier(table.table), sql.Identifier(step.partition)
    with transaction.atomic():
        _set_lock_timeout()
        _create_standalone(table, step)
    moved = _move_from_default(table, step)
    if moved:
        _vacuum_default(table)
    with transaction.atomic():
        _set_lock_timeout()
        _execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                parent, name, sql.Literal(step.start), sql.Literal(step.end)
            )
        )
        # The partition's own bound says the same now; keep it shaped like its siblings.
        _execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(name, _bounds_constraint(step))
        )
        # psqlextra's mark on the partitions it manages, which its retention looks for.
        _execute(
            sql.SQL("COMMENT ON TABLE {} IS {}").format(
                name, sql.Literal(AUTO_PARTITIONED_COMMENT)
            )
        )
    return moved


def _vacuum_default(table: PartitionedTable) -> None:
    """Reclaim the rows just moved out of DEFAULT before ATTACH scans it.

    ATTACH holds ACCESS EXCLUSIVE on DEFAULT while it reads it through, dead rows included,
    and a query reading every partition waits meanwhile (measured, 600k rows swept in two
    months: up to 150 to 200 ms without this VACUUM, ~85 ms with it). VACUUM itself only takes
    SHARE UPDATE EXCLUSIVE. It cannot run inside a transaction: a caller's (tests) skips it.
    """
    if connection.in_atomic_block:
        return
    default = next((p for p in table_partitions(table.table) if p.is_default), None)
    if default is None:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, false)", [settings.PARTITIONS_LOCK_TIMEOUT]
        )
        try:
            cursor.execute(
                sql.SQL("VACUUM {}")
                .format(sql.Identifier(default.name))
                .as_string(cursor.connection)
            )
        finally:
            cursor.execute("RESET lock_timeout")


def _bounds_constraint(step: Step) -> sql.Identifier:
    return sql.Identifier(f"{step.partition}_bounds")


def _create_standalone(table: PartitionedTable, step: Step) -> None:
    being_built = being_built_comment(table.table, step.start)
    found = _execute(
        sql.SQL(
            "SELECT c.relkind, c.relispartition, obj_description(c.oid, 'pg_class')"
            " FROM pg_class c WHERE c.oid = to_regclass(quote_ident(%s))"
        ),
        [step.partition],
    )
    if found:
        if found[0] == ("r", False, being_built):
            return  # an interrupted run's: resume it
        raise PartitionError(
            f"{step.partition} already exists and is neither a partition of {table.table}"
            " nor one being built by maintenance: rename or drop it"
        )
    parent, name = sql.Identifier(table.table), sql.Identifier(step.partition)
    # Not INCLUDING IDENTITY: a partition takes its ids from the parent's sequence (and
    # PostgreSQL 15 refuses to attach a table with an identity column of its own). The
    # parent's CHECK constraints (the partition key's range among them) must be there for
    # ATTACH; its indexes too, so ATTACH adopts them instead of building them under its lock.
    _execute(
        sql.SQL(
            "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
            " INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMPRESSION)"
        ).format(name, parent)
    )
    key = sql.Identifier(_key(table))
    _execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} >= {} AND {} < {})").format(
            name,
            _bounds_constraint(step),
            key,
            sql.Literal(step.start),
            key,
            sql.Literal(step.end),
        )
    )
    _execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(name, sql.Literal(being_built)))


def _move_from_default(table: PartitionedTable, step: Step) -> int:
    """Move DEFAULT's rows of the step's month into the standalone table, a batch at a time.

    Each batch is its own transaction: row locks on the rows it moves, and ROW EXCLUSIVE on
    DEFAULT and the new table, which no write of the application conflicts with. Batches go
    up the primary key (``id`` leads it), each starting where the last one ended, so the
    whole sweep reads DEFAULT's index once instead of once per batch.
    """
    default = next((p for p in table_partitions(table.table) if p.is_default), None)
    if default is None:
        return 0
    model = table.model
    columns = sql.SQL(", ").join(
        sql.Identifier(field.column) for field in model._meta.concrete_fields
    )
    key = sql.Identifier(_key(table))
    move = sql.SQL(
        "WITH moved AS ("
        " DELETE FROM {default} WHERE ctid = ANY (ARRAY("
        "  SELECT ctid FROM {default} WHERE id >= %s AND {key} >= %s AND {key} < %s"
        "  ORDER BY id LIMIT %s))"
        " RETURNING {columns}),"
        " kept AS (INSERT INTO {target} ({columns}) SELECT {columns} FROM moved RETURNING id)"
        " SELECT count(*), max(id) FROM kept"
    ).format(
        default=sql.Identifier(default.name),
        target=sql.Identifier(step.partition),
        key=key,
        columns=columns,
    )
    # Moving rows is not a change anyone made: the model's protections (append-only) and
    # audit triggers stay out of it. Only this code path, as the owner, does this.
    protections = [
        f"{model._meta.label}:{trigger.name}"
        for registered, trigger in pgtrigger.registered()
        if registered is model
    ]
    batch = settings.PARTITIONS_SWEEP_BATCH_ROWS
    after, total = -(2**63), 0
    while True:
        with transaction.atomic(), pgtrigger.ignore(*protections):
            _set_lock_timeout()
            [(count, last)] = _execute(move, [after, step.start, step.end, batch])
        total += count
        if count < batch:
            return total
        # >= (not >): ids are unique in practice, but nothing in a partitioned table makes
        # them so, and a row moved is gone from DEFAULT, so it is not met twice.
        after = last


def _archive_and_drop(table: PartitionedTable, step: Step, result: Result) -> None:
    if step.end > retention_cutoff(table):  # never inside retention, whatever the plan said
        raise AssertionError(f"{step.partition} is inside retention; refusing to drop it")
    partition = sql.Identifier(step.partition)
    with transaction.atomic():
        _set_lock_timeout()
        # Nothing can be written to it while it is copied, so the archive is exactly
        # what gets dropped.
        _execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(partition))
        manifest_path, manifest = archive_partition(
            table=table.table,
            partition=step.partition,
            start=step.start,
            end=step.end,
            order_by=[_key(table), "id"],
            directory=Path(settings.ARCHIVE_DIR),
        )
        _execute(
            sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                sql.Identifier(table.table), partition
            )
        )
        _execute(sql.SQL("DROP TABLE {}").format(partition))
    result.archives.append(str(manifest_path))
    result.applied.append(f"{step.describe()}: {manifest.rows} row(s) archived")
    logger.info("partitions: archived and dropped %s (%s rows)", step.partition, manifest.rows)


def create_partitions_after_migrate(sender, using: str = "default", **kwargs) -> None:
    """post_migrate: partitions are in place before anything writes to a partitioned table.

    Creates and sweeps only; archiving and dropping wait for the nightly run.
    """
    maintain(retention=False).raise_if_failed()
