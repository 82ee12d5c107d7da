"""Nightly audit work."""

from __future__ import annotations

from celery import shared_task

from audit.services import audit_seal


@shared_task(autoretry_for=(Exception,), retry_backoff=60, retry_jitter=True, max_retries=5)
def seal_audit_log() -> int:
    """Seal yesterday (and any day missed) so tampering shows on `manage.py audit verify`."""
    return len(audit_seal())
