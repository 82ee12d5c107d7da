"""The base class of every StayOS Celery task: attributed writes and a recorded run."""

from __future__ import annotations

from typing import Any

from celery import Task

from audit.context import context
from audit.jobs import JobLock, job_run
from audit.models import JobRun


class AuditedTask(Task):
    """Runs the body in ``audit.context(source="task:<name>")`` and records a ``JobRun``.

    A task declared with ``job_lock=JobLock(...)`` runs only while holding that lock: a run
    that finds it taken is recorded as skipped and returns ``{"skipped": True}``.
    """

    job_lock: JobLock | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with (
            context(source=f"task:{self.name}", request_id=self.request.id),
            job_run(f"task:{self.name}", lock=self.job_lock) as run,
        ):
            if run.status == JobRun.Status.SKIPPED:
                return run.result
            run.result = super().__call__(*args, **kwargs)
            return run.result
