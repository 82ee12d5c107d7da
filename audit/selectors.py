"""Reads of the audit log: a row's history, what changed since a version, seal checks."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from collections.abc import Iterable
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, models
from django.utils import timezone

from audit.models import Action, AuditEntry, AuditSeal
from audit.sealing import digest_document, digest_files, signature_problem, verifying_keys
from audit.triggers import redacted_columns
from stayos.partitioning.catalog import table_partitions

# Columns that say nothing a person changed (see audit.triggers.BOOKKEEPING_FIELDS).
HIDDEN_COLUMNS = {"version", "updated_at", "updated_by_id", "created_at", "created_by_id", "id"}
_DIGEST_BATCH = 5000
NOT_KEPT = "(personal data, not kept in the audit log)"


@dataclasses.dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str
    # For a many-to-many field: "added Minibar; removed Balcony" (old and new are whole sets).
    summary: str = ""


@dataclasses.dataclass(frozen=True)
class HistoryItem:
    entry: AuditEntry
    who: str
    changes: list[FieldChange]


def row_history(*, model: type[models.Model], pk: Any) -> models.QuerySet[AuditEntry]:
    """Every audit row of one object, newest first (served by the audit_log_row index)."""
    return AuditEntry.objects.filter(table_name=model._meta.db_table, row_id=pk).order_by(
        "-occurred_at", "-id"
    )


def row_changes_since(*, model: type[models.Model], pk: Any, version: int) -> list[HistoryItem]:
    """What others changed on a row after ``version``, oldest first, field by field."""
    entries = row_history(model=model, pk=pk).filter(
        action=Action.UPDATE, new__version__gt=version
    )
    return describe(model=model, entries=reversed(list(entries)))


def describe(*, model: type[models.Model], entries: Iterable[AuditEntry]) -> list[HistoryItem]:
    """Readable history: staff names, field labels, choice labels, related objects' names."""
    entries = list(entries)
    users = get_user_model().objects.in_bulk({e.user_id for e in entries if e.user_id})
    columns = {field.column: field for field in model._meta.concrete_fields}
    # Links (a room's amenities) are audited under the model, by field name (see
    # audit.triggers.RelationAuditTrigger).
    columns.update({field.name: field for field in model._meta.many_to_many})
    related = _related_names(columns, entries)
    redacted = set(redacted_columns(model))
    items = []
    for entry in entries:
        user = users.get(entry.user_id)
        who = (user.get_full_name() or user.get_username()) if user else "system"
        if entry.action == Action.UPDATE:
            shown = [c for c in entry.changed_fields if c not in HIDDEN_COLUMNS]
        else:
            image = (entry.new if entry.action == Action.INSERT else entry.old) or {}
            shown = [
                c for c, v in image.items() if c not in HIDDEN_COLUMNS and v not in (None, "", [])
            ]
        changes = [
            FieldChange(
                field=str(columns[c].verbose_name) if c in columns else c,
                old=NOT_KEPT
                if c in redacted
                else _display(columns.get(c), (entry.old or {}).get(c), related),
                new=NOT_KEPT
                if c in redacted
                else _display(columns.get(c), (entry.new or {}).get(c), related),
                summary=_links_summary(columns.get(c), entry, c, related),
            )
            for c in shown
        ]
        items.append(HistoryItem(entry=entry, who=who, changes=changes))
    return items


def _related_names(
    columns: dict[str, models.Field], entries: list[AuditEntry]
) -> dict[tuple[type, str], str]:
    wanted: dict[type, set[str]] = {}
    for entry in entries:
        for image in (entry.old or {}, entry.new or {}):
            for column, value in image.items():
                field = columns.get(column)
                if field is None or value is None:
                    continue
                if field.many_to_many:
                    wanted.setdefault(field.related_model, set()).update(map(str, value))
                elif field.is_relation:
                    wanted.setdefault(field.related_model, set()).add(str(value))
    names = {}
    for related_model, ids in wanted.items():
        manager = related_model._base_manager
        for pk, obj in manager.in_bulk(list(ids)).items():
            names[(related_model, str(pk))] = str(obj)
    return names


def _links_summary(
    field: models.Field | None, entry: AuditEntry, column: str, related: dict
) -> str:
    """What a change of links added and removed: "added Minibar; removed Balcony"."""
    if field is None or not field.many_to_many:
        return ""
    old = set((entry.old or {}).get(column) or [])
    new = set((entry.new or {}).get(column) or [])
    parts = [
        f"{verb} {', '.join(sorted(related.get((field.related_model, i), i) for i in ids))}"
        for verb, ids in (("added", new - old), ("removed", old - new))
        if ids
    ]
    return "; ".join(parts)


def _display(field: models.Field | None, value: Any, related: dict) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if field is not None and field.many_to_many:
        return ", ".join(sorted(related.get((field.related_model, v), v) for v in value))
    if field is not None and field.is_relation:
        return related.get((field.related_model, str(value)), str(value))
    if field is not None and field.choices:
        labels = dict(field.flatchoices)
        return str(labels.get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        base_field = getattr(field, "base_field", None)
        labels = dict(base_field.flatchoices) if base_field is not None else {}
        return ", ".join(str(labels.get(item, item)) for item in value) or "—"
    return str(value)


# Tamper evidence ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DayDigest:
    day: datetime.date
    row_count: int
    rows_digest: str


# What a seal covers, in a fixed order and format: adding a column to audit_log later does not
# change the digest of days sealed before (json renders timestamps in ISO 8601, NULL as null).
SEALED_COLUMNS = (
    "occurred_at", "id", "table_name", "row_id", "action", "old", "new", "changed_fields",
    "property_id", "user_id", "ip", "user_agent", "session_key", "request_id", "source",
    "reason", "transaction_id",
)  # fmt: skip
_SEALED_ROW = f"json_build_array({', '.join(SEALED_COLUMNS)})::text"


def day_digest(day: datetime.date) -> DayDigest:
    """SHA-256 over one UTC day's audit rows (SEALED_COLUMNS), in (occurred_at, id) order."""
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)
    end = start + datetime.timedelta(days=1)
    digest = hashlib.sha256()
    count = 0
    after: tuple = (start - datetime.timedelta(microseconds=1), 0)
    with connection.cursor() as cursor:
        while True:
            # Keyset pages keep memory flat however busy the day was.
            cursor.execute(
                f"SELECT occurred_at, id, {_SEALED_ROW} FROM audit_log"
                " WHERE occurred_at >= %s AND occurred_at < %s AND (occurred_at, id) > (%s, %s)"
                " ORDER BY occurred_at, id LIMIT %s",
                [start, end, *after, _DIGEST_BATCH],
            )
            rows = cursor.fetchall()
            for _, _, text in rows:
                digest.update(text.encode())
                digest.update(b"\n")
            count += len(rows)
            if len(rows) < _DIGEST_BATCH:
                return DayDigest(day=day, row_count=count, rows_digest=digest.hexdigest())
            after = (rows[-1][0], rows[-1][1])


def chain(previous_seal: str, digest: DayDigest) -> str:
    """The day's seal: it covers the day's rows and, through the previous seal, all before."""
    material = f"{previous_seal}|{digest.day.isoformat()}|{digest.row_count}|{digest.rows_digest}"
    return hashlib.sha256(material.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class SealCheck:
    day: datetime.date
    ok: bool
    problem: str = ""


def seals_verify(*, since: datetime.date | None = None) -> list[SealCheck]:
    """Check every seal and every day with audit rows; one failed check per problem.

    Fails a day when its seal's signature or its link in the chain does not hold, when it has
    audit rows but no seal (today and a yesterday not sealed yet excepted; rows dated before
    the first seal included), when the seals skip it, when the database's seal and the day's
    digest file disagree or one of them is missing, when its rows (inside retention) no
    longer hash to the seal, or when the partition holding its month is gone. ``since``
    limits the report (and the rows recomputed) to days from then on; signatures, the chain
    and the digest files are checked whole, which is cheap. Raises SealKeyError without a
    public key to check signatures with.
    """
    keys = verifying_keys()
    today = timezone.now().astimezone(datetime.UTC).date()
    seals = list(AuditSeal.objects.order_by("day"))
    sealed_days = {seal.day for seal in seals}
    files = digest_files()
    archived_before = retention_start()
    problems: dict[datetime.date, list[str]] = {}

    def fail(day: datetime.date, problem: str) -> None:
        problems.setdefault(day, []).append(problem)

    # Days inside the sealed span either have a seal (their rows are hashed below) or are
    # reported as skipped: only rows outside it need looking for.
    rows_days = days_with_rows(outside=(seals[0].day, seals[-1].day) if seals else None)
    previous: AuditSeal | None = None
    for seal in seals:
        previous_seal = previous.seal if previous else ""
        previous_signature = previous.signature if previous else ""
        if previous is not None:
            skipped = _days_between(previous.day, seal.day)
            for day in skipped:
                fail(day, f"it has no seal: the seals skip from {previous.day} to {seal.day}")
        if seal.previous_seal != previous_seal:
            fail(seal.day, "its link to the previous day's seal is broken")
        problem = signature_problem(seal, previous_signature=previous_signature, keys=keys)
        if problem:
            fail(seal.day, problem)
        recorded = DayDigest(day=seal.day, row_count=seal.row_count, rows_digest=seal.rows_digest)
        if chain(seal.previous_seal, recorded) != seal.seal:
            fail(seal.day, "the seal itself was altered")
        if seal.day >= archived_before and (since is None or seal.day >= since):
            # Days before retention were archived and dropped (the archive has its own
            # checksum): only their signed chain can still be checked.
            digest = day_digest(seal.day)
            if (digest.row_count, digest.rows_digest) != (seal.row_count, seal.rows_digest):
                fail(
                    seal.day,
                    f"its audit rows no longer match the seal ({digest.row_count} rows now, "
                    f"{seal.row_count} when sealed)",
                )
        document = digest_document(seal, previous_signature=previous_signature)
        if seal.day not in files:
            fail(seal.day, "its digest file is missing from AUDIT_DIGEST_DIR")
        elif files[seal.day] != document:
            fail(seal.day, "its digest file and the database's seal disagree")
        previous = seal

    for day in sorted(set(files) - sealed_days):
        fail(day, "its digest file exists but the database has no seal for it (deleted)")

    last_sealed = max(sealed_days | set(files), default=None)
    yesterday = today - datetime.timedelta(days=1)
    not_due = (
        {today} if last_sealed is not None and last_sealed >= yesterday else {today, yesterday}
    )
    first_sealed = min(sealed_days, default=None)
    for day in sorted(rows_days - sealed_days - not_due):
        before_first = first_sealed is not None and day < first_sealed
        fail(
            day,
            "it has audit rows but no seal" + (" (before the first seal)" if before_first else ""),
        )

    for month, days in _months_without_partition(
        [seal for seal in seals if seal.day >= archived_before]
    ).items():
        fail(
            days[0],
            f"the audit_log partition for {month:%Y-%m} is missing (detached or dropped); "
            f"sealed days {days[0]} to {days[-1]}",
        )

    checks = [
        SealCheck(day=day, ok=False, problem=problem)
        for day in sorted(problems)
        for problem in problems[day]
        if since is None or day >= since
    ]
    checks += [
        SealCheck(day=seal.day, ok=True)
        for seal in seals
        if seal.day not in problems and (since is None or seal.day >= since)
    ]
    return checks


def _days_between(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=n) for n in range(1, (last - first).days)]


def days_with_rows(
    *, outside: tuple[datetime.date, datetime.date] | None = None
) -> set[datetime.date]:
    """Every UTC day that has audit rows (DEFAULT partition included), or only those outside
    the days ``outside`` spans (first and last day included).

    audit_log has no index leading with occurred_at (its key is (id, occurred_at)), so this
    reads the rows it looks at: a month of 1M rows takes ~0.25 s. With ``outside``, partition
    pruning leaves only the edge months, DEFAULT and anything older than the span: verify
    hashes the days inside it anyway.
    """
    query = "SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date FROM audit_log"
    params: list = []
    if outside is not None:
        first, last = (
            datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)
            for day in outside
        )
        query += " WHERE occurred_at < %s OR occurred_at >= %s"
        params = [first, last + datetime.timedelta(days=1)]
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return {day for (day,) in cursor.fetchall()}


def _months_without_partition(
    seals: list[AuditSeal],
) -> dict[datetime.date, list[datetime.date]]:
    """Sealed months inside retention whose audit_log partition is gone, with their days.

    A month no range partition covers is missing when it is a hole between covered months,
    or when its seals counted rows and none are left anywhere (DEFAULT included). Other
    uncovered months are legitimate: rows written before maintenance first ran sit in
    DEFAULT until it sweeps them out.
    """
    ranges = [
        (p.start, p.end) for p in table_partitions(AuditEntry._meta.db_table) if not p.is_default
    ]
    by_month: dict[datetime.date, list[AuditSeal]] = {}
    for seal in seals:
        by_month.setdefault(seal.day.replace(day=1), []).append(seal)
    missing = {}
    for month, month_seals in by_month.items():
        start = datetime.datetime.combine(month, datetime.time.min, tzinfo=datetime.UTC)
        if any(low <= start < high for low, high in ranges):
            continue
        hole = any(high <= start for _, high in ranges) and any(low > start for low, _ in ranges)
        if hole or (
            any(seal.row_count for seal in month_seals)
            and not AuditEntry.objects.filter(
                occurred_at__gte=start, occurred_at__lt=start + relativedelta(months=1)
            ).exists()
        ):
            missing[month] = [seal.day for seal in month_seals]
    return missing


def retention_start() -> datetime.date:
    """First day the audit log must still hold; earlier days may be archived and dropped.

    Only those days are checked by their seal chain alone: a day inside retention whose rows
    are missing (a partition detached or dropped early) fails verification.
    """
    now = timezone.now().astimezone(datetime.UTC)
    months = now.year * 12 + now.month - 1 - settings.AUDIT_RETENTION_MONTHS
    return datetime.date(months // 12, months % 12 + 1, 1)
