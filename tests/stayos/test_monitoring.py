"""Monitoring JSON for staff; red (503) when partitions are not as configured."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import reverse

from audit.models import JobRun
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URLS = ["monitoring-health", "monitoring-partition-metrics", "monitoring-partition-verify"]


@pytest.mark.parametrize("name", URLS)
def test_callers_without_the_monitoring_permission_are_refused(name: str):
    assert Client().get(reverse(name)).status_code == 401
    for user in (
        UserFactory(is_staff=False, is_superuser=False),
        # Staff is not enough: the front desk has no business reading partition sizes.
        UserFactory(is_staff=True, is_superuser=False),
    ):
        caller = Client()
        caller.force_login(user)
        response = caller.get(reverse(name))
        assert response.status_code == 403
        assert "stayos.view_monitoring" in response.json()["error"]


def test_a_staff_member_with_the_monitoring_permission_is_let_in():
    user = UserFactory(is_staff=True, is_superuser=False)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="stayos", codename="view_monitoring")
    )
    caller = Client()
    caller.force_login(user)
    assert caller.get(reverse("monitoring-partition-metrics")).status_code == 200


def test_health_reports_database_redis_migrations_and_last_maintenance(admin_client: Client):
    from django.core.management import call_command

    call_command("partitions", "maintain", stdout=io.StringIO())
    body = admin_client.get(reverse("monitoring-health")).json()
    assert body["ok"] is True
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["migrations"] == {"ok": True, "pending": []}
    assert body["last_maintenance"]["status"] == JobRun.Status.OK


def test_metrics_describe_every_partitioned_table(admin_client: Client):
    body = admin_client.get(reverse("monitoring-partition-metrics")).json()
    tables = {table["table"]: table for table in body["tables"]}
    assert set(tables) == {"audit_log", "domain_event"}
    audit = tables["audit_log"]
    assert audit["months_ahead"] >= 3
    assert audit["default_rows"] == 0
    assert audit["retention_months"] == 84
    assert any(bound["from"] is None for bound in audit["bounds"])  # the DEFAULT partition


def test_verify_is_green_then_red_when_a_partition_goes_missing(admin_client: Client):
    url = reverse("monitoring-partition-verify")
    green = admin_client.get(url)
    assert green.status_code == 200, green.json()
    assert all(check["ok"] for check in green.json()["checks"])

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'audit_log'::regclass AND c.relname <> 'audit_log_default'"
            " ORDER BY c.relname DESC LIMIT 1"
        )
        (last,) = cursor.fetchone()
        cursor.execute(f"ALTER TABLE audit_log DETACH PARTITION {last}")
        cursor.execute(f"DROP TABLE {last}")

    red = admin_client.get(url)
    assert red.status_code == 503
    failed = {check["name"] for check in red.json()["checks"] if not check["ok"]}
    assert "audit_log: coverage ahead" in failed


def test_verify_goes_red_when_an_audit_trigger_is_disabled(admin_client: Client):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE stayos_room DISABLE TRIGGER USER")
    red = admin_client.get(reverse("monitoring-partition-verify"))
    assert red.status_code == 503
    [check] = [c for c in red.json()["checks"] if not c["ok"]]
    assert "stayos_room.pgtrigger_audit_update" in check["detail"]


def test_health_is_red_when_the_last_maintenance_failed(admin_client: Client):
    from django.utils import timezone

    JobRun.objects.create(
        job="task:stayos.tasks.maintain_partitions",
        started_at=timezone.now(),
        status=JobRun.Status.FAILED,
        error="LockNotAvailable: canceling statement due to lock timeout",
    )
    response = admin_client.get(reverse("monitoring-health"))
    assert response.status_code == 503
    assert response.json()["last_maintenance"]["error"].startswith("LockNotAvailable")


def test_health_names_the_tables_the_last_maintenance_could_not_maintain(admin_client: Client):
    from django.core.management import CommandError, call_command

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO domain_event (occurred_at, name, aggregate_type, aggregate_id, payload)"
            " VALUES ('2031-05-10', 'room.status_changed', 'stayos.room', gen_random_uuid(),"
            " '{}')"
        )
        cursor.execute("CREATE TABLE domain_event_2031_may (note text)")  # name taken
    with pytest.raises(CommandError, match="domain_event"):
        call_command("partitions", "maintain", stdout=io.StringIO(), stderr=io.StringIO())

    response = admin_client.get(reverse("monitoring-health"))
    assert response.status_code == 503
    last = response.json()["last_maintenance"]
    assert last["status"] == JobRun.Status.FAILED
    assert last["failed_tables"] == ["domain_event"]


def test_health_tells_a_dead_running_maintenance_from_a_live_one(admin_client: Client):
    from django.db import connections
    from django.utils import timezone

    from stayos.partitioning.maintenance import MAINTENANCE_LOCK

    run = JobRun.objects.create(job=MAINTENANCE_LOCK.jobs[0], started_at=timezone.now())
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # its process is alive: it holds the lock
            cursor.execute("SELECT pg_advisory_lock(%s)", [MAINTENANCE_LOCK.key])
        alive = admin_client.get(reverse("monitoring-health"))
        assert alive.status_code == 200, alive.json()
        assert alive.json()["last_maintenance"]["status"] == JobRun.Status.RUNNING
        with other.cursor() as cursor:  # as when its process dies (at once, not eventually)
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MAINTENANCE_LOCK.key])
    finally:
        other.close()

    dead = admin_client.get(reverse("monitoring-health"))
    assert dead.status_code == 503
    assert dead.json()["last_maintenance"]["status"] == "abandoned"
    assert JobRun.objects.get(pk=run.pk).status == JobRun.Status.RUNNING  # only reported


def test_verify_goes_red_when_a_partition_may_be_truncated(admin_client: Client):
    assert admin_client.get(reverse("monitoring-partition-verify")).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_log_default DISABLE TRIGGER append_only_truncate")
    red = admin_client.get(reverse("monitoring-partition-verify"))
    assert red.status_code == 503
    [check] = [c for c in red.json()["checks"] if not c["ok"]]
    assert check["name"] == "audit_log: every partition refuses TRUNCATE"
    assert check["detail"] == "audit_log_default"
