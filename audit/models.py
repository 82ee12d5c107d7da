"""The audit log, its daily seals, and domain events."""

from __future__ import annotations

import datetime

import pgtrigger
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from psqlextra.models import PostgresPartitionedModel
from psqlextra.types import PostgresPartitioningMethod


class TransactionNow(models.Func):
    """now(): the start of the current transaction, as the row triggers stamp it."""

    template = "now()"
    output_field = models.DateTimeField()


class PartitionIdentityField(models.BigAutoField):
    """A bigint identity column that is half of a (partition key, id) primary key.

    PostgreSQL wants the partition key inside a partitioned table's primary key, so
    psqlextra composes one; this column keeps the identity sequence without claiming to be
    the key by itself (which Django's AutoField otherwise insists on).
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs["primary_key"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("primary_key", None)
        return name, path, args, kwargs

    def _check_primary_key(self) -> list:
        return []


# The range every partition key must fall in, as constants: a CHECK constraint must stay true
# for a row once written (PostgreSQL assumes it is immutable, and a restore re-checks it), so
# it cannot say "not after now() + x". The keys are stamped by the database (TransactionNow),
# so a legitimate row is always "now"; the range only keeps out what no clock writes, and
# what would poison partition maintenance ('infinity' has no month, year 9999's next month
# overflows). Wide enough that no one has to move it: a typo inside it costs one partition.
PARTITION_KEY_FLOOR = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
PARTITION_KEY_CEILING = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)


def partition_key_in_range(table: str, key: str) -> models.CheckConstraint:
    """``<table>_<key>_in_range``: the partition key of every range-partitioned table is sane.

    Declared on the partitioned parent, so every partition inherits it, DEFAULT included;
    ``stayos.partitioning.checks`` reports a configured table that lacks it. The bounds
    exclude ±infinity as well.
    """
    return models.CheckConstraint(
        condition=Q(**{f"{key}__gte": PARTITION_KEY_FLOOR, f"{key}__lt": PARTITION_KEY_CEILING}),
        name=f"{table}_{key}_in_range",
    )


# Refuse every change to an append-only table. Rows leave only with their whole partition,
# past retention (partition maintenance detaches and archives, never DELETEs).
APPEND_ONLY = [
    pgtrigger.Trigger(
        name="append_only",
        when=pgtrigger.Before,
        operation=pgtrigger.Update | pgtrigger.Delete,
        func="RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP"
        " USING ERRCODE = 'insufficient_privilege';",
    ),
    pgtrigger.Trigger(
        name="append_only_truncate",
        level=pgtrigger.Statement,
        when=pgtrigger.Before,
        operation=pgtrigger.Truncate,
        func="RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME"
        " USING ERRCODE = 'insufficient_privilege';",
    ),
]


class Action(models.TextChoices):
    INSERT = "insert", "Created"
    UPDATE = "update", "Changed"
    DELETE = "delete", "Deleted"


class ContextColumns(models.Model):
    """Who, from where and why: the columns audit.context fills in the database."""

    user_id = models.IntegerField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True, db_default="")
    session_key = models.CharField(max_length=40, blank=True, db_default="")
    request_id = models.CharField(max_length=64, blank=True, db_default="")
    source = models.CharField(max_length=100, blank=True, db_default="")
    reason = models.TextField(blank=True, db_default="")

    class Meta:
        abstract = True


class AuditLog(PostgresPartitionedModel, ContextColumns):
    """One row per inserted, changed or deleted row of a domain table, written by triggers.

    No Django code writes here: the ``audit_*`` triggers (``audit.triggers``) do, in the
    transaction of the change. Read it through ``AuditEntry``.
    """

    id = PartitionIdentityField()
    occurred_at = models.DateTimeField(db_default=TransactionNow())
    table_name = models.CharField(max_length=63)
    row_id = models.UUIDField()
    action = models.CharField(max_length=6, choices=Action.choices)
    old = models.JSONField(null=True, blank=True)
    new = models.JSONField(null=True, blank=True)
    changed_fields = ArrayField(models.CharField(max_length=63), default=list, blank=True)
    property_id = models.UUIDField(null=True, blank=True)
    transaction_id = models.BigIntegerField()

    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["occurred_at"]

    class Meta(PostgresPartitionedModel.Meta):
        db_table = "audit_log"
        triggers = APPEND_ONLY
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=Action.values), name="audit_log_action_valid"
            ),
            partition_key_in_range("audit_log", "occurred_at"),
        ]
        indexes = [
            # The audit browser: newest first within a window (read backwards, partition by
            # partition, stopping after one page).
            models.Index(fields=["occurred_at", "id"], name="audit_log_time"),
            # "History of this row": the History page of every object.
            models.Index(fields=["table_name", "row_id", "occurred_at"], name="audit_log_row"),
            # "What did this user do between two times".
            models.Index(
                fields=["user_id", "occurred_at"],
                condition=Q(user_id__isnull=False),
                name="audit_log_user_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.table_name} {self.row_id}"


class AuditEntry(ContextColumns):
    """Read-only view of ``audit_log`` with a plain key, for the admin and selectors.

    A partitioned table's primary key is (occurred_at, id); Django's admin cannot work with a
    composite key, so reads go through this unmanaged model. ``id`` comes from an identity
    sequence and is unique across partitions.
    """

    id = models.BigIntegerField(primary_key=True)
    occurred_at = models.DateTimeField()
    table_name = models.CharField(max_length=63)
    row_id = models.UUIDField()
    action = models.CharField(max_length=6, choices=Action.choices)
    old = models.JSONField(null=True)
    new = models.JSONField(null=True)
    changed_fields = ArrayField(models.CharField(max_length=63), default=list)
    property_id = models.UUIDField(null=True)
    transaction_id = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "audit_log"
        ordering = ["-occurred_at", "-id"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.table_name} {self.row_id}"


class AuditSeal(models.Model):
    """A day's audit rows hashed, chained to the day before, signed: tampering shows on verify.

    The signature is made with AUDIT_SEAL_KEY, outside the database (``audit.sealing``), so
    rewriting this table cannot produce a seal that verifies.
    """

    day = models.DateField(primary_key=True)
    row_count = models.BigIntegerField()
    rows_digest = models.CharField(max_length=64, help_text="SHA-256 over the day's rows.")
    previous_seal = models.CharField(max_length=64, blank=True)
    seal = models.CharField(max_length=64, help_text="SHA-256 of previous seal + rows digest.")
    sealed_at = models.DateTimeField(db_default=TransactionNow())
    # Empty only on seals made before seals were signed: verify reports them as unsigned.
    signature = models.CharField(
        max_length=88, blank=True, db_default="", help_text="Ed25519 signature, base64."
    )
    key_fingerprint = models.CharField(
        max_length=64, blank=True, db_default="", help_text="SHA-256 of the signing public key."
    )

    class Meta:
        db_table = "audit_seal"
        ordering = ["-day"]
        triggers = APPEND_ONLY

    def __str__(self) -> str:
        return f"Seal {self.day}: {self.seal[:12]}…"


class DomainEvent(PostgresPartitionedModel, ContextColumns):
    """Something that happened in the business, recorded in the transaction that made it so."""

    id = PartitionIdentityField()
    occurred_at = models.DateTimeField(db_default=TransactionNow())
    name = models.CharField(max_length=100, help_text="e.g. room.status_changed")
    aggregate_type = models.CharField(max_length=63)
    aggregate_id = models.UUIDField()
    property_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField(default=dict)

    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["occurred_at"]

    class Meta(PostgresPartitionedModel.Meta):
        db_table = "domain_event"
        triggers = APPEND_ONLY
        constraints = [
            models.CheckConstraint(
                condition=Q(name__regex=r"^[a-z_]+\.[a-z_]+$"), name="domain_event_name_format"
            ),
            partition_key_in_range("domain_event", "occurred_at"),
        ]
        indexes = [
            # The events browser: newest first within a window (see audit_log_time).
            models.Index(fields=["occurred_at", "id"], name="domain_event_time"),
            # The event stream of one aggregate (a reservation's story, a room's).
            models.Index(
                fields=["aggregate_type", "aggregate_id", "occurred_at"],
                name="domain_event_aggregate",
            ),
            # Events by name over time (e.g. every payment.captured this month).
            models.Index(fields=["name", "occurred_at"], name="domain_event_name_time"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.aggregate_id}"


class DomainEventEntry(ContextColumns):
    """Read-only view of ``domain_event`` with a plain key (see ``AuditEntry``)."""

    id = models.BigIntegerField(primary_key=True)
    occurred_at = models.DateTimeField()
    name = models.CharField(max_length=100)
    aggregate_type = models.CharField(max_length=63)
    aggregate_id = models.UUIDField()
    property_id = models.UUIDField(null=True)
    payload = models.JSONField(default=dict)

    class Meta:
        managed = False
        db_table = "domain_event"
        ordering = ["-occurred_at", "-id"]
        verbose_name = "domain event"

    def __str__(self) -> str:
        return f"{self.name} {self.aggregate_id}"


class JobRun(models.Model):
    """One run of a background job (a Celery task, a maintenance command): when, how it ended."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        SKIPPED = "skipped", "Skipped (another run held the lock)"
        FAILED = "failed", "Failed"

    job = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        db_table = "audit_job_run"
        ordering = ["-started_at"]
        indexes = [
            # "When did this job last run, and how?": the health endpoint and the admin list.
            models.Index(fields=["job", "-started_at"], name="audit_job_run_latest"),
            # The job runs list: newest first within a window (the admin adds -id to the order).
            models.Index(fields=["started_at", "id"], name="audit_job_run_started"),
        ]

    def __str__(self) -> str:
        return f"{self.job} at {self.started_at:%Y-%m-%d %H:%M} ({self.status})"
