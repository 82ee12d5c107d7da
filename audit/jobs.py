"""Every run of a background job leaves a JobRun row: started, finished, result or error."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from audit.models import JobRun


@contextlib.contextmanager
def job_run(job: str) -> Iterator[JobRun]:
    """Record a run of ``job``; set ``run.result`` inside the block.

    Used at the top level of a job (outside its transactions), the row outlives a failed
    job whose own work rolls back. A result with ``"skipped": True`` marks the run skipped.
    """
    run = JobRun.objects.create(job=job, started_at=timezone.now())
    try:
        yield run
    except BaseException as error:
        run.status = JobRun.Status.FAILED
        run.error = f"{type(error).__name__}: {error}"[:10_000]
        raise
    else:
        skipped = isinstance(run.result, dict) and run.result.get("skipped") is True
        run.status = JobRun.Status.SKIPPED if skipped else JobRun.Status.OK
    finally:
        run.finished_at = timezone.now()
        run.result = _jsonable(run.result)
        run.save(update_fields=["status", "error", "finished_at", "result"])


def _jsonable(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        value = {"value": value}
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except TypeError:
        return {"repr": repr(value)}
