"""Monitoring JSON for staff: health, partition metrics, partition verify (503 when red).

Callers need the ``stayos.view_monitoring`` permission (the Auditor and Manager roles).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from audit.jobs import is_abandoned
from audit.models import JobRun
from stayos.partitioning.catalog import configured_tables, table_status
from stayos.partitioning.checks import partition_checks
from stayos.partitioning.maintenance import MAINTENANCE_LOCK

MONITORING_PERMISSION = "stayos.view_monitoring"


def monitoring_json(view: Callable[[HttpRequest], JsonResponse]) -> Callable:
    """401 for anonymous callers, 403 without the monitoring permission, as JSON.

    JSON rather than a redirect to the login page: the callers are scripts and probes.
    """

    @functools.wraps(view)
    def wrapped(request: HttpRequest) -> JsonResponse:
        if not request.user.is_authenticated:
            return JsonResponse({"error": "authentication required"}, status=401)
        if not request.user.has_perm(MONITORING_PERMISSION):
            return JsonResponse(
                {"error": f"the {MONITORING_PERMISSION} permission is required"}, status=403
            )
        return view(request)

    return require_GET(wrapped)


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            return {"ok": True, "version": cursor.fetchone()[0]}
    except Exception as error:
        return {"ok": False, "error": str(error)}


def _redis() -> dict:
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        return {"ok": bool(client.ping())}
    except Exception as error:
        return {"ok": False, "error": str(error)}


def _pending_migrations() -> list[str]:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    targets = executor.loader.graph.leaf_nodes()
    return [
        f"{migration.app_label}.{migration.name}"
        for migration, _ in executor.migration_plan(targets)
    ]


def _last_maintenance() -> dict | None:
    """The latest partition maintenance, nightly task or command, whichever ran last."""
    run = JobRun.objects.filter(job__in=MAINTENANCE_LOCK.jobs).order_by("-started_at").first()
    if run is None:
        return None
    # A run killed midway stays "running" until the next run marks it failed; say so now.
    abandoned = is_abandoned(run, MAINTENANCE_LOCK)
    return {
        "job": run.job,
        "ok": run.status != JobRun.Status.FAILED and not abandoned,
        "status": "abandoned" if abandoned else run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
        # Tables are maintained one by one: which ones the run could not bring in line.
        "failed_tables": run.result.get("failed", []),
    }


@monitoring_json
def health(request: HttpRequest) -> JsonResponse:
    database = _database()
    pending = _pending_migrations() if database["ok"] else []
    body = {
        "database": database,
        "redis": _redis(),
        "migrations": {"ok": not pending, "pending": pending},
        "last_maintenance": _last_maintenance(),
    }
    maintenance_ok = body["last_maintenance"] is None or body["last_maintenance"]["ok"]
    ok = database["ok"] and body["redis"]["ok"] and not pending and maintenance_ok
    return JsonResponse({"ok": ok, **body}, status=200 if ok else 503)


@monitoring_json
def partition_metrics(request: HttpRequest) -> JsonResponse:
    tables = []
    for table in configured_tables():
        status = table_status(table)
        tables.append(
            {
                "table": table.table,
                "partitions": len(status.ranges),
                "covered_until": status.covered_until,
                "months_ahead": status.months_ahead,
                "retention_months": table.retention_months,
                "rows_estimate": sum(p.rows_estimate for p in status.partitions),
                "bytes": sum(p.bytes for p in status.partitions),
                "default_rows": status.default_rows,
                "bounds": [
                    {
                        "name": p.name,
                        "from": p.start,
                        "to": p.end,
                        "rows_estimate": p.rows_estimate,
                        "bytes": p.bytes,
                    }
                    for p in status.partitions
                ],
            }
        )
    return JsonResponse({"tables": tables})


@monitoring_json
def partition_verify(request: HttpRequest) -> JsonResponse:
    checks = partition_checks()
    ok = all(check.ok for check in checks)
    return JsonResponse(
        {
            "ok": ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
        },
        status=200 if ok else 503,
    )
