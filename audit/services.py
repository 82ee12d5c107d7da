"""Writes of the audit app: sealing days of the audit log."""

from __future__ import annotations

import datetime

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from audit.models import AuditEntry, AuditSeal
from audit.sealing import (
    digest_document,
    digest_write,
    last_digest_day,
    sign,
    signature_problem,
    signing_key,
    verifying_keys,
)
from audit.selectors import chain, day_digest


class SealError(ValueError):
    """A seal that would not hold (a day not over yet), or seals that went missing."""


# Concurrent sealers (beat twice, an operator by hand) take turns on this advisory lock.
SEAL_LOCK_KEY = 0x5EA1_0001


@transaction.atomic
def audit_seal(*, through: datetime.date | None = None) -> list[AuditSeal]:
    """Seal every finished UTC day up to ``through`` (default: yesterday) not sealed yet.

    A day is finished once it is over and no transaction that began on it is still open
    (its rows carry the transaction's start time); later days wait for the next run. Each
    seal is signed with AUDIT_SEAL_KEY and written as a digest file (``audit.sealing``).
    Seals only move forward: a day at or before the last sealed day, by the database or by
    the digest files, is never sealed afresh, so deleted seals stay missing for verify.
    The digest files are written once the seals are committed (a file never claims a seal
    the database does not have); a run that stopped in between is caught up by the next.
    """
    today = timezone.now().astimezone(datetime.UTC).date()
    if through is not None and through >= today:
        raise SealError(f"{through} is not over yet: only days before {today} can be sealed.")
    signing_key()  # no key, no seals: fail before any work
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
        # Only client sessions write audit rows. Autovacuum workers show a transaction start
        # too (one began before midnight would hold back a whole day's seal).
        cursor.execute(
            "SELECT min(xact_start) FROM pg_stat_activity"
            " WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()"
            " AND datname = current_database() AND backend_type = 'client backend'"
        )
        (oldest_open,) = cursor.fetchone()
    through = through or today - datetime.timedelta(days=1)
    if oldest_open is not None:
        through = min(through, oldest_open.astimezone(datetime.UTC).date() - datetime.timedelta(1))
    last = AuditSeal.objects.order_by("-day").first()
    last_file = last_digest_day()
    if last_file is not None and (last is None or last.day < last_file):
        # The newest seals are gone from the database but not from the files: sealing on
        # from the database's last seal would write over that evidence.
        raise SealError(
            f"The digest files go up to {last_file} but the database's seals "
            f"{f'stop at {last.day}' if last else 'are gone'}: seals were deleted (or a digest "
            "file was planted). "
            "Nothing sealed; run `manage.py audit verify`."
        )
    audit_digest_files_catch_up()
    if last is not None:
        day, previous, previous_signature = (
            last.day + datetime.timedelta(days=1),
            last.seal,
            last.signature,
        )
    else:
        first = AuditEntry.objects.aggregate(first=Min("occurred_at"))["first"]
        if first is None:
            return []
        day, previous, previous_signature = first.astimezone(datetime.UTC).date(), "", ""
    sealed = []
    while day <= through:
        digest = day_digest(day)
        seal = AuditSeal(
            day=day,
            row_count=digest.row_count,
            rows_digest=digest.rows_digest,
            previous_seal=previous,
            seal=chain(previous, digest),
        )
        sign(seal, previous_signature=previous_signature)
        seal.save(force_insert=True)
        sealed.append(seal)
        day, previous, previous_signature = (
            day + datetime.timedelta(days=1),
            seal.seal,
            seal.signature,
        )
    if sealed:
        transaction.on_commit(audit_digest_files_catch_up)
    return sealed


def audit_digest_files_catch_up() -> list[datetime.date]:
    """Write the digest files of the newest seals that have none yet; return their days.

    Only seals after the last digest file, and only while their signatures hold: a file
    missing in the middle, or a seal that does not verify, is left for verify to report.
    Writing a file again with the same content is harmless (digest_write), so two runs
    catching up at once agree.
    """
    keys = verifying_keys()
    last_file = last_digest_day()
    seals = AuditSeal.objects.order_by("day")
    if last_file is not None:
        seals = seals.filter(day__gte=last_file)
    previous: AuditSeal | None = None
    written = []
    for seal in seals:
        previous_signature = previous.signature if previous else ""
        if last_file is None or seal.day > last_file:
            if previous is not None and seal.previous_seal != previous.seal:
                break
            if signature_problem(seal, previous_signature=previous_signature, keys=keys):
                break
            digest_write(seal.day, digest_document(seal, previous_signature=previous_signature))
            written.append(seal.day)
        previous = seal
    return written
