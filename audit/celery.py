"""The base class of every StayOS Celery task: attributed writes and a recorded run."""

from __future__ import annotations

from typing import Any

from celery import Task

from audit.context import context
from audit.jobs import job_run


class AuditedTask(Task):
    """Runs the body in ``audit.context(source="task:<name>")`` and records a ``JobRun``."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with (
            context(source=f"task:{self.name}", request_id=self.request.id),
            job_run(f"task:{self.name}") as run,
        ):
            run.result = super().__call__(*args, **kwargs)
            return run.result
