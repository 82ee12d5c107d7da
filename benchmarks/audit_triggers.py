"""What the audit triggers cost an UPDATE: single rows, and 100k rows in one statement.

Three copies of ``stayos_room`` (same columns, defaults, indexes and checks), 100k rows each:

- ``plain``: no triggers, the baseline;
- ``statement``: the production set, ``stayos.triggers.row_triggers(Room)`` (bump_version,
  stamp_insert, audit at statement level over transition tables);
- ``row``: the same with the audit at row level (one audit INSERT per row).

The triggers are the real pgtrigger objects compiled against ``Room`` and installed on the
copies, so the benchmark follows any change to them. Room's own ``same_property_room_type``
trigger is left out of every variant: it is not part of the audit, and neither UPDATE
measured here would fire it (it watches ``room_type_id`` and ``property_id`` only).

Goals (issue text): audited single-row updates keep >= 70% of the untriggered throughput;
the 100k-row bulk update takes <= 3x the untriggered time.
"""

from __future__ import annotations

import dataclasses
import random
import re
import statistics
import time
from typing import Any

import pgtrigger
import psycopg
from pgtrigger import compiler
from psycopg import sql

from audit.pgtrigger_ignore import SHOULD_IGNORE
from audit.triggers import audit_triggers
from benchmarks.scratch import ScratchDatabase
from benchmarks.timing import Ratio, interleaved, paired_ratio
from stayos.models import Room
from stayos.triggers import BUMP_VERSION, STAMP_INSERT, row_triggers

ROWS = 100_000
PROPERTIES = 20
SINGLE_ROW_ROUNDS = 5
SINGLE_ROW_UPDATES = 1_500  # per variant and round, each its own committed transaction
WARM_UP_UPDATES = 200
EXPLAINED_UPDATES = 200  # single-row EXPLAIN ANALYZE runs per variant, for the time split
BULK_ROUNDS = 4
# A bulk UPDATE after a single-row one in the same session is cancelled past this many times
# the variant's own median bulk time (see bulk_after_single_row).
AFTER_SINGLE_ROW_TIMEOUT_FACTOR = 3
# Any statement past this is a regression to look into, not a figure to wait for: the run
# fails instead of hanging ``make bench``.
STATEMENT_TIMEOUT = "120s"

SINGLE_ROW_GOAL = 0.70  # audited throughput / plain throughput, at least
BULK_GOAL = 3.0  # audited seconds / plain seconds, at most

# Sent in front of every UPDATE in the same query string, as audit.context does for the
# application, so the baseline pays the same round trip and parsing as the audited tables.
SET_CONTEXT = (
    "SELECT set_config('stayos.user_id', %s, true), set_config('stayos.context', %s, true)"
)
CONTEXT_USER_ID = 1
CONTEXT = (str(CONTEXT_USER_ID), '{"source": "bench"}')

Connection = psycopg.Connection[Any]


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    description: str
    triggers: tuple[pgtrigger.Trigger, ...]

    @property
    def table(self) -> str:
        return f"bench_{self.name}"

    @property
    def audited(self) -> bool:
        return bool(self.triggers)


def build_variants() -> list[Variant]:
    """The baseline first, then the production (statement-level) and row-level sets."""
    return [
        Variant("plain", "no triggers (the baseline)", ()),
        Variant(
            "statement",
            "production row_triggers(Room): bump_version, stamp_insert, statement-level audit",
            tuple(row_triggers(Room)),
        ),
        Variant(
            "row",
            "bump_version, stamp_insert, row-level audit",
            (BUMP_VERSION, STAMP_INSERT, *audit_triggers(Room, level=pgtrigger.Row)),
        ),
    ]


# --- set-up ------------------------------------------------------------------------------


def install_sql(trigger: pgtrigger.Trigger, table: str) -> str:
    """The trigger compiled against Room as a migration would, retargeted at ``table``.

    The compiled SQL names the table and the trigger/function (the pgid); both are swapped:
    the table for the copy, the pgid suffixed with it so the copies' functions replace
    neither the real table's nor each other's.
    """
    compiled = trigger.compile(Room).sql
    pgid = f"{compiled.pgid}_{table}"
    kwargs = {**compiled.kwargs, "table": table, "pgid": pgid, "execute": f"{pgid}()"}
    rendered = str(compiler.UpsertTriggerSql(**kwargs))
    if Room._meta.db_table in rendered or re.search(rf"\b{compiled.pgid}\b", rendered):
        raise RuntimeError(f"{trigger.name}: the retargeted SQL still names the real table")
    return rendered


def trigger_label(pgid: str, table: str) -> str:
    """``pgtrigger_audit_update_51785_bench_row`` -> ``audit_update``."""
    return re.sub(rf"^pgtrigger_(.*?)_[0-9a-f]{{5}}_{table}$", r"\1", pgid)


def set_up_tables(connection: Connection, variants: list[Variant]) -> list[Any]:
    """Create and fill the copies, install their triggers, return the row ids."""
    first, *others = variants
    for variant in variants:
        table = sql.Identifier(variant.table)
        connection.execute(
            sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                table, sql.Identifier(Room._meta.db_table)
            )
        )
        # The benchmark vacuums explicitly between measurements; autovacuum waking up in the
        # middle of a timed section would only add noise.
        connection.execute(
            sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = false)").format(table)
        )
    # LIKE copies no foreign keys, so made-up property and room type ids do. Rows start as
    # the context user's, as the application leaves them: bump_version then rewrites the
    # indexed updated_by_id with the same value, which keeps updates HOT-eligible, and the
    # copies differ by their triggers only.
    connection.execute(
        sql.SQL(
            """
            INSERT INTO {table} (id, created_at, updated_at, created_by_id, updated_by_id,
                                 version, property_id, room_type_id, number, floor,
                                 housekeeping_status, accessibility, notes)
            SELECT stayos_uuid7(), now(), now(), %(user)s, %(user)s,
                   1, property.id, property.room_type_id, 'R' || g, (g %% 40)::smallint,
                   'clean', '{{}}', ''
            FROM generate_series(1, %(rows)s) AS g
            JOIN (SELECT n, gen_random_uuid() AS id, gen_random_uuid() AS room_type_id
                  FROM generate_series(0, %(properties)s - 1) AS n) AS property
              ON property.n = g %% %(properties)s
            """
        ).format(table=sql.Identifier(first.table)),
        {"user": CONTEXT_USER_ID, "rows": ROWS, "properties": PROPERTIES},
    )
    # The same rows (same ids) in every copy, so one sample of ids serves all variants.
    for variant in others:
        connection.execute(
            sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
                sql.Identifier(variant.table), sql.Identifier(first.table)
            )
        )
    # Triggers go on after the data, so filling the copies writes no audit rows.
    for variant in variants:
        for trigger in variant.triggers:
            connection.execute(install_sql(trigger, variant.table))
    # Installing a pgtrigger trigger re-creates pgtrigger's own _pgtrigger_should_ignore;
    # production replaces it after every migrate (audit.pgtrigger_ignore), so do the same.
    connection.execute(SHOULD_IGNORE)
    # audit_log is append-only (no row may leave it): its partitions only grow during the
    # run and go with the scratch database. Autovacuum stays off them too.
    partitions = connection.execute(
        "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'audit_log'::regclass"
    ).fetchall()
    for (partition,) in partitions:
        connection.execute(
            # regclass::text is already a quoted identifier
            sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = false)").format(sql.SQL(partition))
        )
    for variant in variants:
        connection.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(variant.table)))
    rows = connection.execute(sql.SQL("SELECT id FROM {}").format(sql.Identifier(first.table)))
    return [row_id for (row_id,) in rows]


def may_checkpoint(connection: Connection) -> bool:
    """CHECKPOINT needs superuser or pg_checkpoint; without it the runs are only noisier."""
    row = connection.execute(
        "SELECT rolsuper OR pg_has_role(current_user, 'pg_checkpoint', 'MEMBER')"
        " FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    return bool(row and row[0])


# --- measurements --------------------------------------------------------------------------


def update_sql(connection: Connection, table: str, assignment: str) -> str:
    """``UPDATE table SET assignment`` with the table name quoted."""
    statement = sql.SQL("UPDATE {} SET " + assignment).format(sql.Identifier(table))
    return statement.as_string(connection)


def with_context(statement: str) -> str:
    """``statement`` behind the context settings, as one query string (one round trip)."""
    return f"{SET_CONTEXT}; {statement}"


def single_row_rate(connection: Connection, variant: Variant, row_ids: list[Any]) -> float:
    """Committed single-row UPDATEs per second, one round trip and transaction each."""
    statement = with_context(update_sql(connection, variant.table, "notes = %s WHERE id = %s"))
    with connection.cursor() as cursor:
        start = time.perf_counter()
        for number, row_id in enumerate(row_ids):
            cursor.execute(statement, (*CONTEXT, f"note {number}", row_id))
            while cursor.nextset():  # on to the UPDATE's result, as audit.context does
                pass
        elapsed = time.perf_counter() - start
    return len(row_ids) / elapsed


def audit_update_count(connection: Connection, table: str) -> int:
    row = connection.execute(
        "SELECT count(*) FROM audit_log WHERE table_name = %s AND action = 'update'", (table,)
    ).fetchone()
    assert row is not None
    return int(row[0])


@dataclasses.dataclass(frozen=True)
class BulkRun:
    seconds: float
    audit_rows: int | None  # audit rows the UPDATE wrote (audited variants only)


def bulk_update(connection: Connection, variant: Variant, *, checkpoint: bool) -> BulkRun:
    """One ``UPDATE t SET floor = floor + 1`` over every row, from a vacuumed table."""
    # Each run leaves 100k dead row versions; vacuum them so that every run starts from the
    # same table, and checkpoint so that no run pays for flushing the previous one's pages.
    connection.execute(sql.SQL("VACUUM {}").format(sql.Identifier(variant.table)))
    if checkpoint:
        connection.execute("CHECKPOINT")
    # Trigger statements planned now, for this UPDATE, as in a new connection; the plans a
    # single-row UPDATE leaves behind are bulk_after_single_row's subject.
    connection.execute("DISCARD PLANS")
    before = audit_update_count(connection, variant.table) if variant.audited else None
    statement = with_context(update_sql(connection, variant.table, "floor = floor + 1"))
    start = time.perf_counter()
    connection.execute(statement, CONTEXT)
    seconds = time.perf_counter() - start
    if before is None:
        return BulkRun(seconds, None)
    return BulkRun(seconds, audit_update_count(connection, variant.table) - before)


@dataclasses.dataclass(frozen=True)
class AfterSingleRowRun:
    seconds: float
    cancelled: bool  # hit the statement_timeout: seconds is a lower bound


def bulk_after_single_row(
    connection: Connection, variant: Variant, row_id: Any, *, timeout: float
) -> AfterSingleRowRun:
    """A bulk UPDATE in a session whose triggers on the table last ran for one row.

    PL/pgSQL plans each statement of a function at its first run in a session and keeps the
    plan. The statement-level audit joins its transition tables; planned while they hold one
    row, that join is a nested loop, quadratic when the kept plan later meets 100k rows. A
    long-lived application connection (CONN_MAX_AGE, a Celery worker) that saved one room
    and then updates them all is this case, until something makes it re-plan (an invalidation
    of the table's cached metadata, a new connection). Rolled back, and cancelled at
    ``timeout`` seconds.
    """
    connection.execute(sql.SQL("VACUUM {}").format(sql.Identifier(variant.table)))
    connection.execute("DISCARD PLANS")
    connection.execute(
        with_context(update_sql(connection, variant.table, "notes = %s WHERE id = %s")),
        (*CONTEXT, "before the bulk update", row_id),
    )
    statement = with_context(update_sql(connection, variant.table, "floor = floor + 1"))
    try:
        with connection.transaction(force_rollback=True):
            # Transaction-local: the session's own timeout is back after the rollback.
            connection.execute(
                "SELECT set_config('statement_timeout', %s, true)", (f"{timeout * 1000:.0f}ms",)
            )
            start = time.perf_counter()
            connection.execute(statement, CONTEXT)
    except psycopg.errors.QueryCanceled:
        return AfterSingleRowRun(time.perf_counter() - start, cancelled=True)
    return AfterSingleRowRun(time.perf_counter() - start, cancelled=False)


@dataclasses.dataclass(frozen=True)
class TimeSplit:
    """Server-side milliseconds of one UPDATE, from EXPLAIN ANALYZE."""

    planning: float
    execution: float
    triggers: dict[str, float]  # trigger -> milliseconds over all its calls
    calls: dict[str, int]

    @classmethod
    def from_explain(cls, report: dict[str, Any], table: str) -> TimeSplit:
        triggers = report.get("Triggers", [])
        return cls(
            planning=report["Planning Time"],
            execution=report["Execution Time"],
            triggers={trigger_label(t["Trigger Name"], table): t["Time"] for t in triggers},
            calls={trigger_label(t["Trigger Name"], table): t["Calls"] for t in triggers},
        )

    @classmethod
    def median(cls, splits: list[TimeSplit]) -> TimeSplit:
        """Each component's median over many runs."""
        names = splits[0].triggers
        return cls(
            planning=statistics.median(split.planning for split in splits),
            execution=statistics.median(split.execution for split in splits),
            triggers={n: statistics.median(split.triggers[n] for split in splits) for n in names},
            calls=splits[0].calls,
        )

    def describe(self, *, scale: float, calls: bool) -> str:
        # Triggers slowest first; "execute" includes them (EXPLAIN counts trigger time in it).
        ordered = sorted(self.triggers.items(), key=lambda item: -item[1])
        parts = [
            f"{name} {time_ / scale:.2f}" + (f" x{self.calls[name]:,}" if calls else "")
            for name, time_ in ordered
        ]
        within = f" ({', '.join(parts)})" if parts else ""
        return f"plan {self.planning / scale:.2f} + execute {self.execution / scale:.2f}{within}"


def single_row_split(connection: Connection, variant: Variant, row_ids: list[Any]) -> TimeSplit:
    """Median server-side split of committed single-row UPDATEs (EXPLAIN ANALYZE runs them)."""
    statement = with_context(
        "EXPLAIN (ANALYZE, FORMAT JSON) "
        + update_sql(connection, variant.table, "notes = %s WHERE id = %s")
    )
    splits = []
    with connection.cursor() as cursor:
        for number, row_id in enumerate(row_ids):
            cursor.execute(statement, (*CONTEXT, f"explained {number}", row_id))
            cursor.nextset()
            row = cursor.fetchone()
            assert row is not None
            splits.append(TimeSplit.from_explain(row[0][0], variant.table))
    return TimeSplit.median(splits)


def bulk_split(connection: Connection, variant: Variant) -> TimeSplit:
    """Server-side split of one bulk UPDATE, run under EXPLAIN ANALYZE and rolled back."""
    statement = update_sql(connection, variant.table, "floor = floor + 1")
    connection.execute(sql.SQL("VACUUM {}").format(sql.Identifier(variant.table)))
    connection.execute("DISCARD PLANS")  # planned for this UPDATE, as the timed runs are
    with connection.transaction(force_rollback=True):
        connection.execute(SET_CONTEXT, CONTEXT)
        row = connection.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}").fetchone()
    assert row is not None
    return TimeSplit.from_explain(row[0][0], variant.table)


@dataclasses.dataclass
class Results:
    rates: dict[Variant, list[float]]
    bulk_runs: dict[Variant, list[BulkRun]]
    single_row_splits: dict[Variant, TimeSplit]
    bulk_splits: dict[Variant, TimeSplit]
    after_single_row: dict[Variant, AfterSingleRowRun]
    single_row_seconds: float
    bulk_seconds: float


def measure(connection: Connection, variants: list[Variant], row_ids: list[Any]) -> Results:
    rng = random.Random(20_251_122)  # the same id samples and orders on every run
    connection.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
    checkpoint = may_checkpoint(connection)
    if checkpoint:
        connection.execute("CHECKPOINT")
    else:
        print("  (no CHECKPOINT permission: skipped between measurements, expect more noise)")

    # Single-row UPDATEs. Warm up first: a session compiles each plpgsql function on its
    # first call (and plans its statements, here for one row), and the first touches read
    # the tables' pages into the cache.
    for variant in variants:
        single_row_rate(connection, variant, rng.sample(row_ids, WARM_UP_UPDATES))
    # One sample of ids per round, shared by the variants: each pays for the same pages.
    samples = [rng.sample(row_ids, SINGLE_ROW_UPDATES) for _ in range(SINGLE_ROW_ROUNDS)]
    started = time.perf_counter()
    rates = interleaved(
        variants,
        lambda variant, round_: single_row_rate(connection, variant, samples[round_]),
        rounds=SINGLE_ROW_ROUNDS,
        rng=rng,
    )
    single_row_seconds = time.perf_counter() - started
    explained = rng.sample(row_ids, EXPLAINED_UPDATES)
    single_row_splits = {
        variant: single_row_split(connection, variant, explained) for variant in variants
    }

    started = time.perf_counter()
    bulk_runs = interleaved(
        variants,
        lambda variant, _round: bulk_update(connection, variant, checkpoint=checkpoint),
        rounds=BULK_ROUNDS,
        rng=rng,
    )
    bulk_seconds = time.perf_counter() - started
    after_single_row = {
        variant: bulk_after_single_row(
            connection,
            variant,
            row_ids[0],
            timeout=AFTER_SINGLE_ROW_TIMEOUT_FACTOR
            * statistics.median(run.seconds for run in bulk_runs[variant]),
        )
        for variant in variants[1:]
    }
    bulk_splits = {variant: bulk_split(connection, variant) for variant in variants}
    return Results(
        rates,
        bulk_runs,
        single_row_splits,
        bulk_splits,
        after_single_row,
        single_row_seconds,
        bulk_seconds,
    )


# --- report --------------------------------------------------------------------------------


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def report(variants: list[Variant], results: Results) -> None:
    plain = variants[0]
    plain_bulk = statistics.median(run.seconds for run in results.bulk_runs[plain])
    rate_ratios: dict[Variant, Ratio] = {}
    bulk_ratios: dict[Variant, Ratio] = {}
    print(
        f"  single-row: {SINGLE_ROW_ROUNDS} rounds x {SINGLE_ROW_UPDATES:,} committed UPDATEs"
        f" per variant ({results.single_row_seconds:.0f}s)"
    )
    print(
        f"  bulk: {BULK_ROUNDS} rounds x UPDATE of all {ROWS:,} rows"
        f" ({results.bulk_seconds:.0f}s), each from a VACUUM,\n  a CHECKPOINT and freshly"
        " planned triggers (DISCARD PLANS)"
    )
    print("  medians over rounds; ratio = median of the per-round ratios to plain (min-max)")
    print()
    print(f"  {'variant':<10} {'single-row upd/s':>16} {'ratio':>17} {'bulk s':>9} {'ratio':>17}")
    for variant in variants:
        seconds = [run.seconds for run in results.bulk_runs[variant]]
        rate_ratios[variant] = rate = paired_ratio(results.rates[variant], results.rates[plain])
        bulk_ratios[variant] = bulk = paired_ratio(
            seconds, [run.seconds for run in results.bulk_runs[plain]]
        )
        rate_spread, bulk_spread = (
            ("", "") if variant is plain else (f"({rate.spread})", f"({bulk.spread})")
        )
        line = (
            f"  {variant.name:<10} {statistics.median(results.rates[variant]):>16,.0f}"
            f" {rate!s:>5} {rate_spread:>11} {statistics.median(seconds):>9.3f}"
            f" {bulk!s:>5} {bulk_spread:>11}"
        )
        print(line.rstrip())

    print()
    print("  bulk UPDATE after a single-row UPDATE in the same session, nothing re-planning")
    print(
        "  in between (cancelled at"
        f" {AFTER_SINGLE_ROW_TIMEOUT_FACTOR}x the variant's median above; rolled back):"
    )
    after_ratios: dict[Variant, tuple[float, bool]] = {}
    for variant, run in results.after_single_row.items():
        after_ratios[variant] = (run.seconds / plain_bulk, run.cancelled)
        if run.cancelled:
            figure = f"> {run.seconds:.1f}s, cancelled: > {run.seconds / plain_bulk:.1f}x plain"
        else:
            figure = f"{run.seconds:.3f}s: {run.seconds / plain_bulk:.2f}x plain"
        print(f"    {variant.name:<10} {figure}")
    if any(run.cancelled for run in results.after_single_row.values()):
        print(
            "    (PL/pgSQL keeps the plan of the audit INSERT made at its first call in the"
            " session;\n     planned for one-row transition tables, the join of old_values and"
            " new_values\n     is a nested loop, quadratic in the rows of a later bulk UPDATE)"
        )

    print()
    print(
        "  where a single-row UPDATE's time goes (ms; client: from the rate above; server:"
        f"\n  medians of {EXPLAINED_UPDATES} EXPLAIN ANALYZE runs, execute includes the"
        " triggers):"
    )
    for variant in variants:
        client_ms = 1000 / statistics.median(results.rates[variant])
        split = results.single_row_splits[variant]
        print(
            f"    {variant.name:<10} client {client_ms:.2f}; server"
            f" {split.describe(scale=1, calls=False)}"
        )
    print("    (client minus server: round trip, parsing, commit and its WAL flush)")
    print("  where a bulk UPDATE's time goes (s; one EXPLAIN ANALYZE run, as the timed ones):")
    for variant in variants:
        split = results.bulk_splits[variant]
        print(f"    {variant.name:<10} server {split.describe(scale=1000, calls=True)}")

    print()
    print("  audit rows written by each timed bulk UPDATE (exactly one per row expected):")
    for variant in variants[1:]:
        counts = [run.audit_rows for run in results.bulk_runs[variant]]
        verdict = "ok" if all(count == ROWS for count in counts) else "WRONG"
        listed = ", ".join(f"{count:,}" for count in counts if count is not None)
        print(f"    {variant.name:<10} {listed}: {verdict}")

    print()
    print("  goals (statement is production; row for comparison):")
    print(
        f"    {'':<10} {f'single-row >= {SINGLE_ROW_GOAL:.2f}':<20}"
        f" {f'bulk <= {BULK_GOAL:.1f}x':<20} {f'bulk after a single row <= {BULK_GOAL:.1f}x'}"
    )
    for variant in variants[1:]:
        rate, bulk = rate_ratios[variant], bulk_ratios[variant]
        after, cancelled = after_ratios[variant]
        rate_goal = f"{rate} {_verdict(rate.median >= SINGLE_ROW_GOAL)}"
        bulk_goal = f"{bulk}x {_verdict(bulk.median <= BULK_GOAL)}"
        after_goal = (
            f"{'> ' if cancelled else ''}{after:.2f}x"
            f" {_verdict(not cancelled and after <= BULK_GOAL)}"
        )
        print(f"    {variant.name:<10} {rate_goal:<20} {bulk_goal:<20} {after_goal}")


def run(database: ScratchDatabase) -> None:
    variants = build_variants()
    print(f"audit triggers: copies of {Room._meta.db_table}, {ROWS:,} rows each")
    for variant in variants:
        print(f"  {variant.name:<10} {variant.description}")
    print("  (Room's own same_property_room_type trigger is in no variant: not audit, and")
    print("   it fires only on changes to room_type_id/property_id, which no UPDATE here makes)")
    with database.connect() as connection:
        started = time.perf_counter()
        row_ids = set_up_tables(connection, variants)
        print(f"  tables built and filled in {time.perf_counter() - started:.1f}s")
        results = measure(connection, variants, row_ids)
    print()
    report(variants, results)
