"""The nightly tasks, run by a real Celery worker against the local Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from celery import shared_task
from django.conf import settings
from django.db import connection, connections

from audit.models import JobRun
from stayos.partitioning.catalog import partitions_being_built
from stayos.partitioning.maintenance import MAINTENANCE_LOCK
from stayos.tasks import maintain_partitions

pytestmark = pytest.mark.django_db


@shared_task(name="tests.always_fails")
def always_fails() -> None:
    raise ValueError("disk full")


def test_a_failing_task_leaves_a_failed_run_with_its_error():
    always_fails.apply()
    run = JobRun.objects.get(job="task:tests.always_fails")
    assert run.status == JobRun.Status.FAILED
    assert "ValueError: disk full" in run.error
    assert run.finished_at is not None


def test_a_table_that_fails_fails_the_run_and_the_others_are_still_maintained(settings):
    settings.PARTITIONS_LOCK_TIMEOUT = "200ms"
    with connection.cursor() as cursor:
        for table, values in (
            ("audit_log", "'stayos_room', gen_random_uuid(), 'insert', '{}', 1"),
            ("domain_event", "'room.status_changed', 'stayos.room', gen_random_uuid(), '{}'"),
        ):
            columns = (
                "table_name, row_id, action, changed_fields, transaction_id"
                if table == "audit_log"
                else "name, aggregate_type, aggregate_id, payload"
            )
            cursor.execute(
                f"INSERT INTO {table} (occurred_at, {columns}) VALUES ('2032-03-03', {values})"
            )
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # e.g. a long report holding audit_log
            cursor.execute("BEGIN")
            cursor.execute("LOCK TABLE audit_log IN SHARE UPDATE EXCLUSIVE MODE")
        maintain_partitions.apply(retries=maintain_partitions.max_retries)
    finally:
        other.close()

    run = JobRun.objects.get(job="task:stayos.tasks.maintain_partitions")
    assert run.status == JobRun.Status.FAILED
    assert run.error.startswith("MaintenanceFailed: audit_log: LockNotAvailable")
    assert run.result["failed"] == ["audit_log"]
    assert run.result["tables"]["domain_event"] == "ok"
    assert any("domain_event: sweep 1 row(s)" in line for line in run.result["applied"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM domain_event_2032_mar")
        assert cursor.fetchone()[0] == 1
        # audit_log's month was built and filled, but not attached: the next run resumes it.
        cursor.execute("SELECT count(*) FROM audit_log_2032_mar")
        assert cursor.fetchone()[0] == 1
    assert list(partitions_being_built("audit_log")) == ["audit_log_2032_mar"]

    assert maintain_partitions.apply().get()["failed"] == []
    assert partitions_being_built("audit_log") == {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_log WHERE occurred_at = '2032-03-03'")
        assert cursor.fetchone()[0] == 1


def test_a_run_that_finds_the_lock_taken_is_recorded_skipped_and_does_nothing():
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MAINTENANCE_LOCK.key])
        assert maintain_partitions.apply().get() == {"skipped": True}
    finally:
        other.close()
    run = JobRun.objects.get(job="task:stayos.tasks.maintain_partitions")
    assert run.status == JobRun.Status.SKIPPED
    assert run.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_partition_maintenance_end_to_end():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_log (occurred_at, table_name, row_id, action, changed_fields,"
            " transaction_id) VALUES ('2032-02-02', 'stayos_room', gen_random_uuid(), 'insert',"
            " '{}', 1)"
        )
    db = connection.settings_dict
    queue = f"test-{uuid.uuid4().hex[:8]}"  # not the queue a `make run` worker listens on
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        summary = maintain_partitions.apply_async(queue=queue).get(timeout=90)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode()
    assert summary["skipped"] is False, output
    assert any("sweep 1 row(s)" in line for line in summary["applied"]), output
    run = JobRun.objects.get(job="task:stayos.tasks.maintain_partitions")
    assert run.status == JobRun.Status.OK
    assert run.result == summary


def test_every_beat_entry_names_a_registered_task():
    from config.celery import app

    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert {"maintain-partitions", "seal-audit-log"} <= set(schedule)
    assert all(entry["task"] in app.tasks for entry in schedule.values())
