"""The base class of every StayOS Celery task: its writes carry the task's audit context."""

from __future__ import annotations

from typing import Any

from celery import Task

from audit.context import context


class AuditedTask(Task):
    """Runs the task body inside ``audit.context(source="task:<name>")``."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with context(source=f"task:{self.name}", request_id=self.request.id):
            return super().__call__(*args, **kwargs)
