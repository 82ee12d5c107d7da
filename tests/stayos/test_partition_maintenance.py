"""manage.py partitions maintain: ahead, DEFAULT swept, retention archived then dropped."""

from __future__ import annotations

import datetime
import io

import pytest
from dateutil.relativedelta import relativedelta
from django.core.management import CommandError, call_command
from django.db import connection, connections
from freezegun import freeze_time

from stayos.partitioning.archive import Manifest, export_checksum
from stayos.partitioning.catalog import table_partitions
from stayos.partitioning.maintenance import MAINTENANCE_LOCK_KEY, maintain
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


def _default_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_log_default")
        return cursor.fetchone()[0]


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
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_log_2031_may")
        assert cursor.fetchone()[0] == 1
        cursor.execute("SELECT count(*) FROM audit_log_2031_jul")
        assert cursor.fetchone()[0] == 1


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
