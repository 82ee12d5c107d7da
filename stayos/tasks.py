"""Nightly jobs of the kernel; the schedule lives in config/settings.py (CELERY_BEAT_SCHEDULE).

Each task calls one service and owns its retry policy; AuditedTask (config/celery.py)
records every run in the admin's "Job runs".
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import DatabaseError

from audit.services import audit_seal
from stayos.partitioning.maintenance import MAINTENANCE_LOCK, MaintenanceFailed, maintain

logger = logging.getLogger(__name__)


@shared_task(
    # A table that failed (most often a lock timeout) is retried with the rest, which by
    # then have nothing left to do.
    autoretry_for=(DatabaseError, OSError, MaintenanceFailed),
    retry_backoff=300,  # 5, 10, 20 min…: a lock timeout at 02:30 is usually gone by then
    retry_jitter=True,
    max_retries=5,
    job_lock=MAINTENANCE_LOCK,  # held for the whole run; see audit.jobs.JobLock
)
def maintain_partitions() -> dict:
    """Create partitions ahead, sweep DEFAULT, archive and drop what is past retention."""
    result = maintain()
    summary = result.summary()
    logger.info("partition maintenance: %s", summary)
    result.raise_if_failed()  # the run is recorded failed, with the per-table summary
    return summary


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=60, retry_jitter=True, max_retries=5)
def seal_audit_log() -> dict:
    """Seal yesterday (and any day missed) so tampering shows on `manage.py audit verify`."""
    sealed = audit_seal()
    summary = {"sealed": [seal.day for seal in sealed]}
    logger.info("audit seal: %s", summary)
    return summary
