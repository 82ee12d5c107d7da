"""manage.py partitions maintain: ahead, DEFAULT swept, retention archived then dropped."""

from __future__ import annotations

import datetime
import io
import os
import queue
import subprocess
import sys
import threading

import pytest
from dateutil.relativedelta import relativedelta
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from freezegun import freeze_time
from psqlextra.partitioning.constants import AUTO_PARTITIONED_COMMENT

from audit.models import JobRun
from config.partitioning import PARTITIONED_TABLES
from stayos.partitioning import maintenance
from stayos.partitioning.archive import Manifest, export_checksum
from stayos.partitioning.catalog import table_partitions
from stayos.partitioning.checks import partition_checks
from stayos.partitioning.maintenance import MAINTENANCE_LOCK, MAINTENANCE_LOCK_KEY, maintain
from tests.concurrency import run_concurrently
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db


def _names(table: str = "audit_log") -> list[str]:
    return [p.name for p in table_partitions(table)]


def _stray_row(when: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_log (occurred_at, table_name, row_id, action, changed_fields,"
            " transaction_id) VALUES (%s, 'stayos_room', gen_random_uuid(), 'insert', '{}', 1)",
            [when],
        )


def _stray_event(when: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO domain_event (occurred_at, name, aggregate_type, aggregate_id, payload)"
            " VALUES (%s, 'room.status_changed', 'stayos.room', gen_random_uuid(), '{}')",
            [when],
        )


def _count(relation: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{relation}"')
        return cursor.fetchone()[0]


def _default_count() -> int:
    return _count("audit_log_default")


def _partition_of(room) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM audit_log WHERE row_id = %s", [room.pk]
        )
        return cursor.fetchone()[0]


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("partitions", *args, stdout=out)
    return out.getvalue()


def test_dry_run_prints_the_plan_and_changes_nothing():
    _stray_row("2031-05-10T08:00:00Z")
    before = _names()
    output = _run("maintain", "--dry-run")
    assert "would audit_log: sweep 1 row(s) out of audit_log_default" in output
    assert "would audit_log: create audit_log_2031_may" in output
    assert _names() == before
    assert _default_count() == 1


def test_it_sweeps_stray_rows_out_of_default_and_keeps_them():
    _stray_row("2031-05-10T08:00:00Z")
    _stray_row("2031-07-01T00:00:00Z")
    _run("maintain")
    assert _default_count() == 0
    assert {"audit_log_2031_may", "audit_log_2031_jul"} <= set(_names())
    assert _count("audit_log_2031_may") == _count("audit_log_2031_jul") == 1
    with connection.cursor() as cursor:
        # psqlextra's mark (its retention looks for it), the parent's row triggers and the
        # partition's own TRUNCATE guard.
        cursor.execute(
            "SELECT obj_description('audit_log_2031_may'::regclass, 'pg_class'),"
            " array(SELECT tgname FROM pg_trigger"
            "       WHERE tgrelid = 'audit_log_2031_may'::regclass ORDER BY 1)"
        )
        comment, triggers = cursor.fetchone()
    assert comment == AUTO_PARTITIONED_COMMENT
    assert triggers[0] == "append_only_truncate"
    assert [name.rsplit("_", 1)[0] for name in triggers[1:]] == ["pgtrigger_append_only"]
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_log_2031_may")
    failing = [check for check in partition_checks() if not check.ok]
    assert failing == []  # indexes adopted, key range enforced, nothing half-built


def test_running_it_twice_changes_nothing_the_second_time():
    _stray_row("2031-05-10T08:00:00Z")
    _run("maintain")
    after_first = _names()
    assert "Maintenance done: 0 step(s)." in _run("maintain")
    assert _names() == after_first


def test_unknown_table_is_a_clear_error():
    with pytest.raises(CommandError, match="not a partitioned table"):
        _run("maintain", "--table", "guests")


def test_a_year_ahead_it_archives_then_drops_exactly_the_partitions_past_retention(
    settings, tmp_path
):
    settings.ARCHIVE_DIR = tmp_path
    settings.AUDIT_RETENTION_MONTHS = 6
    rooms = RoomFactory.create_batch(3)
    # The month the rows landed in, read from the rows (not from a clock read afterwards).
    landed_in = _partition_of(rooms[0])
    this_month = next(p for p in table_partitions("audit_log") if p.name == landed_in)
    rows, checksum = export_checksum(this_month.name, ["occurred_at", "id"])
    assert rows >= 3
    events_before = _names("domain_event")

    a_year_later = this_month.start + relativedelta(years=1, days=14)
    with freeze_time(a_year_later):
        cutoff = this_month.start + relativedelta(months=12 - 6)  # 6 months of retention
        due = [p.name for p in table_partitions("audit_log") if p.end and p.end <= cutoff]
        kept = [p.name for p in table_partitions("audit_log") if p.end and p.end > cutoff]
        output = _run("maintain")

    remaining = _names()
    assert due and all(name not in remaining for name in due)
    assert all(name in remaining for name in kept)
    assert set(events_before) <= set(_names("domain_event"))  # 36-month retention: untouched
    for name in due:
        assert f"archive then drop {name}" in output
        assert len(list((tmp_path / "audit_log").glob(f"{name}.*.csv.gz"))) == 1

    [manifest_path] = (tmp_path / "audit_log").glob(f"{this_month.name}.*.manifest.json")
    manifest = Manifest.load(manifest_path)
    assert (manifest.rows, manifest.csv_sha256) == (rows, checksum)
    assert f"Restored {rows} row(s) into restored_month." in _run(
        "restore", str(manifest_path), "--into", "restored_month"
    )
    assert export_checksum("restored_month", ["occurred_at", "id"]) == (rows, checksum)


def test_restore_refuses_a_tampered_archive(settings, tmp_path):
    settings.ARCHIVE_DIR = tmp_path
    settings.AUDIT_RETENTION_MONTHS = 0
    RoomFactory()
    with freeze_time(datetime.datetime.now(datetime.UTC) + relativedelta(years=1)):
        _run("maintain", "--table", "audit_log")
    manifest_path = next((tmp_path / "audit_log").glob("*.manifest.json"))
    archive = manifest_path.parent / Manifest.load(manifest_path).file
    archive.write_bytes(archive.read_bytes()[:-8] + b"tampered")
    with pytest.raises(CommandError, match="checksum"):
        _run("restore", str(manifest_path), "--into", "restored_tampered")


@pytest.mark.django_db(transaction=True)
def test_a_run_that_finds_the_lock_taken_does_nothing():
    _stray_row("2031-05-10T08:00:00Z")
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MAINTENANCE_LOCK_KEY])
        result = maintain()
        assert result.skipped
        assert _default_count() == 1
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_do_the_work_once():
    for month in ("05", "06", "07"):
        _stray_row(f"2031-{month}-10T08:00:00Z")
    results = [outcome.value() for outcome in run_concurrently(maintain, maintain)]

    applied = [line for result in results for line in result.applied if "sweep" in line]
    assert len(applied) == 1
    assert _default_count() == 0
    assert {"audit_log_2031_may", "audit_log_2031_jun", "audit_log_2031_jul"} <= set(_names())


def test_a_month_archived_twice_keeps_both_archives(settings, tmp_path):
    settings.ARCHIVE_DIR = tmp_path
    settings.AUDIT_RETENTION_MONTHS = 12
    _stray_row("2020-01-15T10:00:00Z")
    _stray_row("2020-01-16T10:00:00Z")
    _run("maintain")  # swept into audit_log_2020_jan, then archived past retention
    _stray_row("2020-01-20T10:00:00Z")  # a back-dated import lands later
    _run("maintain")
    manifests = sorted((tmp_path / "audit_log").glob("audit_log_2020_jan.*.manifest.json"))
    assert [Manifest.load(path).rows for path in manifests] == [2, 1]
    assert "audit_log_2020_jan" not in _names()


def test_status_shows_coverage_default_rows_and_what_retention_will_take(settings):
    settings.AUDIT_RETENTION_MONTHS = 12
    _stray_row("2020-01-15T10:00:00Z")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE audit_log_2019_dec PARTITION OF audit_log"
            " FOR VALUES FROM ('2019-12-01') TO ('2020-01-01')"
        )
    lines = _run("status", "--table", "audit_log").splitlines()
    assert any("(3 month(s) ahead, 3 wanted)" in line for line in lines)
    assert any("retention 12 months" in line for line in lines)
    assert "  DEFAULT partition rows: 1" in lines
    [old_month] = [line for line in lines if "audit_log_2019_dec" in line]
    assert old_month.endswith("retention due")
    newest = [name for name in _names() if not name.endswith("_default")][-1]
    assert not next(line for line in lines if newest in line).endswith("retention due")


def test_one_table_failing_does_not_stop_the_others():
    _stray_row("2031-05-10T08:00:00Z")
    _stray_event("2031-05-10T08:00:00Z")
    with connection.cursor() as cursor:  # something else already has the month's name
        cursor.execute("CREATE TABLE audit_log_2031_may (note text)")

    # audit_log comes first: its failure must not stop domain_event.
    with pytest.raises(CommandError, match="failed for audit_log; domain_event maintained"):
        _run("maintain")

    assert _count("domain_event_default") == 0
    assert _count("domain_event_2031_may") == 1
    assert _default_count() == 1
    run = JobRun.objects.get(job="command:partitions maintain")
    assert run.status == JobRun.Status.FAILED
    assert "audit_log: PartitionError: audit_log_2031_may already exists" in run.error
    assert run.result["failed"] == ["audit_log"]
    assert run.result["tables"]["domain_event"] == "ok"


def test_an_interrupted_sweep_is_resumed_by_the_next_run(settings):
    settings.PARTITIONS_SWEEP_BATCH_ROWS = 2
    for day in range(10, 15):
        _stray_row(f"2031-05-{day}T08:00:00Z")
    [audit_log] = [t for t in PARTITIONED_TABLES if t.table == "audit_log"]
    [step] = [s for s in maintenance.plan_table(audit_log) if s.partition == "audit_log_2031_may"]
    maintenance._create_standalone(audit_log, step)  # what a killed run leaves behind
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pgtrigger.ignore', '{pgtrigger_append_only_e464f}', true)"
        )
        cursor.execute(
            "WITH moved AS (DELETE FROM audit_log_default WHERE ctid IN"
            " (SELECT ctid FROM audit_log_default LIMIT 3) RETURNING *)"
            " INSERT INTO audit_log_2031_may SELECT * FROM moved"
        )
        cursor.execute("SELECT set_config('pgtrigger.ignore', '', true)")
    assert "audit_log_2031_may: half-built" in _run("status", "--table", "audit_log")
    assert "audit_log: no partition left half-built" in {
        check.name for check in partition_checks() if not check.ok
    }

    _run("maintain")

    assert _default_count() == 0
    assert _count("audit_log_2031_may") == 5
    assert "audit_log_2031_may" in _names()
    assert [check for check in partition_checks() if not check.ok] == []


@pytest.mark.django_db(transaction=True)
def test_a_write_during_a_sweep_never_waits_longer_than_the_lock_timeout(settings):
    """A room edit after every statement of a sweep of 30,000 rows, while it is paused.

    Maintenance stops after each of its statements (inside its transaction, locks held)
    until the edit is done; the edit runs with lock_timeout = PARTITIONS_LOCK_TIMEOUT. A
    lock of maintenance that the edit (or its audit row) needs would time it out.
    """
    settings.PARTITIONS_SWEEP_BATCH_ROWS = 2500
    room = RoomFactory()
    with connection.cursor() as cursor:  # two months of stray rows, ~20 batches
        cursor.execute(
            "INSERT INTO audit_log (occurred_at, table_name, row_id, action, changed_fields,"
            " transaction_id) SELECT timestamptz '2034-03-01' + n * interval '2 minutes',"
            " 'stayos_room', gen_random_uuid(), 'insert', '{}', 1"
            " FROM generate_series(0, 29999) AS n"
        )
    # Months no other test creates: partitions outlive a transactional test's flush.
    assert _default_count() == 30_000
    requests: queue.Queue[int | None] = queue.Queue()
    replies: queue.Queue[Exception | None] = queue.Queue()

    def edit_the_room() -> None:
        try:
            while (number := requests.get(timeout=60)) is not None:
                try:
                    with transaction.atomic(), connection.cursor() as cursor:
                        cursor.execute(
                            "SELECT set_config('lock_timeout', %s, true)",
                            [settings.PARTITIONS_LOCK_TIMEOUT],
                        )
                        cursor.execute(
                            "UPDATE stayos_room SET notes = %s WHERE id = %s",
                            [f"edit {number}", room.pk],
                        )
                    replies.put(None)
                except Exception as error:
                    replies.put(error)
        finally:
            connection.close()

    edits: list[Exception | None] = []

    def after_each_statement(execute, sql, params, many, context):
        outcome = execute(sql, params, many, context)
        requests.put(len(edits))
        edits.append(replies.get(timeout=60))
        return outcome

    editor = threading.Thread(target=edit_the_room)
    editor.start()
    try:
        with connection.execute_wrapper(after_each_statement):
            result = maintain(table_name="audit_log", retention=False)
    finally:
        requests.put(None)
        editor.join(timeout=60)

    assert result.failed == {}
    assert [error for error in edits if error is not None] == []
    assert len(edits) > 40  # the edit really ran between the sweep's statements
    assert _default_count() == 0
    assert _count("audit_log_2034_mar") + _count("audit_log_2034_apr") == 30_000
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM audit_log WHERE row_id = %s AND action = 'update'", [room.pk]
        )
        assert cursor.fetchone()[0] == len(edits)  # each edit left its audit row


def _wait_until_the_lock_is_free() -> None:
    """Blocks until the killed process's PostgreSQL session is gone, with its lock."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SET lock_timeout = '60s'")
            cursor.execute("SELECT pg_advisory_lock(%s)", [MAINTENANCE_LOCK_KEY])
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MAINTENANCE_LOCK_KEY])
    finally:
        other.close()


KILLED_RUN = """
import sys
import django

django.setup()
from audit.jobs import job_run
from stayos.partitioning.maintenance import MAINTENANCE_LOCK

with job_run("task:stayos.tasks.maintain_partitions", lock=MAINTENANCE_LOCK) as run:
    print(run.pk, flush=True)
    sys.stdin.read()  # "working" until killed
"""


@pytest.mark.django_db(transaction=True)
def test_a_run_killed_midway_is_marked_failed_by_the_next_run():
    db = connection.settings_dict
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        },
        cwd=django_settings.BASE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        killed = int(process.stdout.readline())
    finally:
        process.kill()
        process.wait(timeout=30)
    assert JobRun.objects.get(pk=killed).status == JobRun.Status.RUNNING  # forever, so far
    _wait_until_the_lock_is_free()

    _run("maintain")

    latest = JobRun.objects.get(job="command:partitions maintain")
    assert latest.status == JobRun.Status.OK
    dead = JobRun.objects.get(pk=killed)
    assert dead.status == JobRun.Status.FAILED
    assert dead.error.startswith(f"abandoned: superseded by run {latest.pk} ")
    assert dead.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_run_still_holding_the_lock_is_not_judged_abandoned():
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # a live run, slow but alive
            cursor.execute("SELECT pg_advisory_lock(%s)", [MAINTENANCE_LOCK_KEY])
            cursor.execute(
                "INSERT INTO audit_job_run (job, started_at, status, result, error)"
                " VALUES (%s, now(), 'running', '{}', '') RETURNING id",
                [MAINTENANCE_LOCK.jobs[0]],
            )
            (alive,) = cursor.fetchone()
        assert "holds the lock; nothing done" in _run("maintain")
    finally:
        other.close()
    assert JobRun.objects.get(pk=alive).status == JobRun.Status.RUNNING
    skipped = JobRun.objects.get(job="command:partitions maintain")
    assert skipped.status == JobRun.Status.SKIPPED
