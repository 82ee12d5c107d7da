"""Every run of a background job leaves a JobRun row: started, finished, result or error."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection
from django.utils import timezone

from audit.models import JobRun

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class JobLock:
    """A PostgreSQL advisory lock that every run of ``jobs`` holds from its first to last row.

    Whoever holds it knows no other run of these jobs is alive, so a "running" row of theirs
    belongs to a process that died (killed, machine lost) without recording its end. The lock
    is the session's: PostgreSQL lets it go when the process's connection goes, and not
    before, so a run that is merely slow is never judged dead (a timeout could not promise
    that).
    """

    key: int
    jobs: tuple[str, ...]


class JobFailed(Exception):
    """A job that did part of its work and failed the rest; ``result`` says which part."""

    def __init__(self, message: str, result: dict | None = None) -> None:
        super().__init__(message)
        self.result = result or {}

    def __reduce__(self) -> tuple:  # Celery pickles a task's error for its result backend
        return type(self), (str(self), self.result)


@contextlib.contextmanager
def job_run(job: str, *, lock: JobLock | None = None) -> Iterator[JobRun]:
    """Record a run of ``job``; set ``run.result`` inside the block.

    Used at the top level of a job (outside its transactions), the row outlives a failed
    job whose own work rolls back. A result with ``"skipped": True`` marks the run skipped.

    With ``lock``, the run takes it first: if another run holds it, the run is recorded as
    skipped and yielded with that status (the caller does nothing); if it gets it, every
    run of ``lock.jobs`` still marked running is marked failed (abandoned) before this one
    starts.
    """
    if lock is not None and not _try_lock(lock):
        now = timezone.now()
        yield JobRun.objects.create(
            job=job,
            started_at=now,
            finished_at=now,
            status=JobRun.Status.SKIPPED,
            result={"skipped": True},
        )
        return
    try:
        run = JobRun.objects.create(job=job, started_at=timezone.now())
        if lock is not None:
            _mark_abandoned(lock, superseded_by=run)
        try:
            yield run
        except BaseException as error:
            run.status = JobRun.Status.FAILED
            run.error = f"{type(error).__name__}: {error}"[:10_000]
            # Celery's autoretry raises Retry with the job's own error as ``exc``.
            failure = error if isinstance(error, JobFailed) else getattr(error, "exc", None)
            if isinstance(failure, JobFailed):
                run.result = failure.result
            raise
        else:
            skipped = isinstance(run.result, dict) and run.result.get("skipped") is True
            run.status = JobRun.Status.SKIPPED if skipped else JobRun.Status.OK
        finally:
            run.finished_at = timezone.now()
            run.result = _jsonable(run.result)
            run.save(update_fields=["status", "error", "finished_at", "result"])
    finally:
        if lock is not None:
            _unlock(lock)


def is_abandoned(run: JobRun, lock: JobLock) -> bool:
    """Whether ``run``, marked running, is dead: nobody holds its job's lock (see JobLock).

    Read in this order, without taking the lock (which would turn a run starting right
    now away): the row was running both before and after a moment when the lock was free,
    and its run holds the lock for as long as its row says running.
    """
    if run.status != JobRun.Status.RUNNING:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s AND objid = %s AND objsubid = 1 AND granted)",
            [lock.key >> 32, lock.key & 0xFFFF_FFFF],
        )
        held = cursor.fetchone()[0]
    return not held and JobRun.objects.filter(pk=run.pk, status=JobRun.Status.RUNNING).exists()


def _try_lock(lock: JobLock) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock.key])
        return cursor.fetchone()[0]


def _unlock(lock: JobLock) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [lock.key])
    except DatabaseError:  # the connection is gone, and the lock with it
        logger.warning("could not release job lock %s", lock.key, exc_info=True)


def _mark_abandoned(lock: JobLock, *, superseded_by: JobRun) -> None:
    """Runs of the lock's jobs still "running": their process is gone (see JobLock)."""
    count = (
        JobRun.objects.filter(job__in=lock.jobs, status=JobRun.Status.RUNNING)
        .exclude(pk=superseded_by.pk)
        .update(
            status=JobRun.Status.FAILED,
            finished_at=superseded_by.started_at,
            error=f"abandoned: superseded by run {superseded_by.pk} ({superseded_by.job},"
            f" started {superseded_by.started_at:%Y-%m-%d %H:%M:%S} UTC), which holds the"
            " job's lock; this run's process ended without recording how",
        )
    )
    if count:
        logger.warning("%s: %s earlier run(s) abandoned, marked failed", superseded_by.job, count)


def _jsonable(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        value = {"value": value}
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except TypeError:
        return {"repr": repr(value)}
