"""Seals hold against an insider: signed outside the database, written as digest files.

Each attack is played as the database's owner would (pgtrigger.ignore, or switching the
triggers off); verify must exit non-zero naming the day.
"""

from __future__ import annotations

import datetime
import io
import json
import stat

import pgtrigger
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase
from freezegun import freeze_time

from audit.models import AuditSeal, JobRun
from audit.sealing import (
    DigestConflict,
    digest_path,
    digest_write,
    generate_key,
    public_key_text,
    signing_key,
)
from audit.selectors import chain, day_digest
from stayos.tasks import seal_audit_log
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db

SEAL_APPEND_ONLY = "audit.AuditSeal:append_only"


def _today() -> datetime.date:
    """The UTC day of the database's now() (see tests/audit/test_seal.py)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT (now() AT TIME ZONE 'UTC')::date")
        return cursor.fetchone()[0]


def _days_ago(days: int) -> datetime.date:
    return _today() - datetime.timedelta(days=days)


def _noon(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)


def _audit_row(day: datetime.date) -> None:
    """An audit row dated ``day``, as a back-dated insert would write it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_log (occurred_at, table_name, row_id, action, changed_fields,"
            " transaction_id) VALUES (%s, 'stayos_room', gen_random_uuid(), 'insert', '{}', 1)",
            [_noon(day)],
        )


def _seal_today() -> str:
    """The nightly seal, run tomorrow: every day up to today is then over."""
    out = io.StringIO()
    with (
        freeze_time(_noon(_today() + datetime.timedelta(days=1))),
        TestCase.captureOnCommitCallbacks(execute=True),  # the digest files, after commit
    ):
        call_command("audit", "seal", stdout=out)
    return out.getvalue()


def _sealed_three_days():
    """Rows three days ago, yesterday and today, each day sealed (the two between empty)."""
    _audit_row(_days_ago(3))
    _audit_row(_days_ago(1))
    room = RoomFactory(notes="")
    _seal_today()
    assert [seal.day for seal in AuditSeal.objects.order_by("day")] == [
        _days_ago(n) for n in (3, 2, 1, 0)
    ]
    return room


def _verify_fails(*, since: datetime.date | None = None) -> str:
    arguments = ["--since", since.isoformat()] if since else []
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify", *arguments, stdout=io.StringIO())
    return str(failure.value)


def _delete_seals(**filters) -> None:
    with pgtrigger.ignore(SEAL_APPEND_ONLY):
        AuditSeal.objects.filter(**filters).delete()


def _switch_triggers_off_and(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(statement, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def test_it_verifies_signed_seals_and_their_digest_files(capsys):
    _sealed_three_days()
    call_command("audit", "verify")
    assert "4 sealed day(s) verified" in capsys.readouterr().out
    seal = AuditSeal.objects.get(day=_today())
    assert len(seal.key_fingerprint) == 64 and seal.signature
    path = digest_path(_today())
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    document = json.loads(path.read_text())
    assert document == {
        "day": _today().isoformat(),
        "row_count": seal.row_count,
        "hash": seal.rows_digest,
        "previous": AuditSeal.objects.get(day=_days_ago(1)).seal,
        "previous_signature": AuditSeal.objects.get(day=_days_ago(1)).signature,
        "seal": seal.seal,
        "signature": seal.signature,
        "fingerprint": seal.key_fingerprint,
    }


def test_verify_fails_naming_every_day_when_all_seals_are_deleted():
    _sealed_three_days()
    _delete_seals()
    output = _verify_fails()
    for day in (_days_ago(3), _days_ago(2), _days_ago(1), _today()):
        assert (
            f"Audit log altered on {day}: its digest file exists but the database has no seal"
            in output
        )
    assert f"Audit log altered on {_days_ago(3)}: it has audit rows but no seal" in output


def test_verify_fails_on_rows_without_seals_when_the_digest_files_are_gone_too(settings):
    _sealed_three_days()
    _delete_seals()
    for path in settings.AUDIT_DIGEST_DIR.iterdir():
        path.unlink()
    output = _verify_fails()
    assert f"Audit log altered on {_days_ago(3)}: it has audit rows but no seal." in output


def test_sealing_refuses_to_seal_again_after_seals_are_deleted_and_rows_edited():
    room = _sealed_three_days()
    _switch_triggers_off_and(
        "UPDATE audit_log SET new = jsonb_set(new, '{notes}', '\"forged\"') WHERE row_id = %s",
        [room.pk],
    )
    _delete_seals()
    with pytest.raises(CommandError, match="seals were deleted"):
        _seal_today()
    assert not AuditSeal.objects.exists()
    output = _verify_fails()
    assert f"Audit log altered on {_today()}: its digest file exists but the database" in output
    assert f"Audit log altered on {_days_ago(3)}: it has audit rows but no seal" in output


def test_sealing_does_not_seal_a_deleted_last_day_afresh():
    _sealed_three_days()
    _delete_seals(day=_today())
    with pytest.raises(CommandError, match=f"digest files go up to {_today()}"):
        _seal_today()
    assert not AuditSeal.objects.filter(day=_today()).exists()
    assert f"Audit log altered on {_today()}:" in _verify_fails()


def test_verify_names_a_day_whose_seal_was_deleted_from_the_middle(settings):
    _sealed_three_days()
    _delete_seals(day=_days_ago(2))  # an empty day: only the chain and the file show it
    digest_path(_days_ago(2)).unlink()
    output = _verify_fails()
    assert f"Audit log altered on {_days_ago(2)}: it has no seal" in output
    assert f"Audit log altered on {_days_ago(1)}: its link to the previous day's seal" in output


def test_verify_fails_naming_the_day_when_one_row_of_a_sealed_day_is_deleted():
    room = _sealed_three_days()
    _switch_triggers_off_and("DELETE FROM audit_log WHERE row_id = %s", [room.pk])
    output = _verify_fails()
    assert f"Audit log altered on {_today()}: its audit rows no longer match the seal" in output
    assert _days_ago(1).isoformat() not in output


def _partition_of_today() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM audit_log WHERE occurred_at >= %s LIMIT 1",
            [_noon(_today()) - datetime.timedelta(hours=12)],
        )
        return cursor.fetchone()[0]


def test_verify_fails_naming_the_day_when_its_partition_is_truncated():
    _sealed_three_days()
    _switch_triggers_off_and(f"TRUNCATE {_partition_of_today()}")
    output = _verify_fails(since=_today())
    assert f"Audit log altered on {_today()}: its audit rows no longer match the seal" in output


def test_verify_fails_naming_the_days_when_their_partition_is_dropped():
    _sealed_three_days()
    partition = _partition_of_today()
    assert partition != "audit_log_default"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {partition}")
    output = _verify_fails(since=_today())
    assert f": the audit_log partition for {_today():%Y-%m} is missing" in output
    assert f"Audit log altered on {_today()}: its audit rows no longer match" in output


def test_verify_fails_naming_the_day_of_a_row_dated_2019():
    _sealed_three_days()
    _audit_row(datetime.date(2019, 6, 15))
    output = _verify_fails()
    assert (
        "Audit log altered on 2019-06-15: it has audit rows but no seal (before the first seal)"
        in output
    )


def test_verify_fails_when_a_seal_is_rewritten_to_match_edited_rows():
    """The insider edits a row, recomputes every hash, and rewrites the seal and its file:
    only the signature, made with a key the database never saw, still tells."""
    room = _sealed_three_days()
    _switch_triggers_off_and(
        "UPDATE audit_log SET new = jsonb_set(new, '{notes}', '\"forged\"') WHERE row_id = %s",
        [room.pk],
    )
    seal = AuditSeal.objects.get(day=_today())
    digest = day_digest(_today())
    forged_seal = chain(seal.previous_seal, digest)
    with pgtrigger.ignore(SEAL_APPEND_ONLY):
        AuditSeal.objects.filter(day=_today()).update(
            row_count=digest.row_count, rows_digest=digest.rows_digest, seal=forged_seal
        )
    path = digest_path(_today())
    document = json.loads(path.read_text())
    document.update(row_count=digest.row_count, hash=digest.rows_digest, seal=forged_seal)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")

    output = _verify_fails()
    assert f"Audit log altered on {_today()}: its seal's signature does not hold" in output
    assert "rows no longer match" not in output  # the hashes were all made to agree


def test_verify_fails_when_a_digest_file_and_the_seal_disagree():
    _sealed_three_days()
    path = digest_path(_days_ago(1))
    document = json.loads(path.read_text())
    document["row_count"] += 1
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    digest_path(_days_ago(3)).unlink()
    output = _verify_fails()
    assert (
        f"Audit log altered on {_days_ago(1)}: its digest file and the database's seal disagree"
        in output
    )
    assert f"Audit log altered on {_days_ago(3)}: its digest file is missing" in output


def test_sealing_never_writes_over_a_digest_file_already_there(settings):
    _audit_row(_days_ago(1))
    settings.AUDIT_DIGEST_DIR.mkdir(parents=True)
    digest_path(_days_ago(1)).write_text('{"planted": true}\n')
    with pytest.raises(CommandError, match="Nothing sealed"):
        _seal_today()
    assert not AuditSeal.objects.exists()
    assert digest_path(_days_ago(1)).read_text() == '{"planted": true}\n'
    assert f"Audit log altered on {_days_ago(1)}: its digest file exists" in _verify_fails()


def test_a_digest_file_is_written_once_and_never_replaced(settings):
    """The race the seal's own check cannot see: a file that appears after it looked."""
    settings.AUDIT_DIGEST_DIR.mkdir(parents=True)
    day = _days_ago(1)
    assert digest_write(day, "first\n") == digest_path(day)
    digest_write(day, "first\n")  # the same seal again (a retried commit) is fine
    with pytest.raises(DigestConflict):
        digest_write(day, "second\n")
    assert digest_path(day).read_text() == "first\n"
    assert [path.name for path in settings.AUDIT_DIGEST_DIR.iterdir()] == [f"{day}.json"]


def test_seals_of_a_retired_key_verify_when_its_public_key_is_listed(settings):
    _sealed_three_days()
    retired_public = public_key_text(signing_key().public_key())
    settings.AUDIT_SEAL_KEY, _ = generate_key()
    assert "its seal is signed by a key not in AUDIT_SEAL_KEY" in _verify_fails()

    settings.AUDIT_SEAL_PUBLIC_KEYS = [retired_public]
    call_command("audit", "verify", stdout=io.StringIO())
    # A verifier that holds only the public key.
    settings.AUDIT_SEAL_KEY = ""
    call_command("audit", "verify", stdout=io.StringIO())


def test_it_refuses_to_seal_without_a_key_and_the_nightly_run_is_recorded_failed(settings):
    _audit_row(_days_ago(1))
    settings.AUDIT_SEAL_KEY = ""
    with pytest.raises(CommandError, match="AUDIT_SEAL_KEY is not set"):
        _seal_today()
    seal_audit_log.apply()
    run = JobRun.objects.get(job="task:stayos.tasks.seal_audit_log")
    assert run.status == JobRun.Status.FAILED
    assert "AUDIT_SEAL_KEY is not set" in run.error
    assert not AuditSeal.objects.exists()


def test_generate_key_prints_a_key_that_signs_seals(settings):
    out = io.StringIO()
    call_command("audit", "generate_key", stdout=out)
    line = out.getvalue().splitlines()[0]
    assert line.startswith("AUDIT_SEAL_KEY=")
    settings.AUDIT_SEAL_KEY = line.removeprefix("AUDIT_SEAL_KEY=")
    _sealed_three_days()
    call_command("audit", "verify", stdout=io.StringIO())


def test_a_seal_run_that_stopped_before_writing_its_files_is_caught_up_by_the_next():
    _sealed_three_days()
    for day in (_days_ago(1), _today()):  # committed, then the worker died
        digest_path(day).unlink()
    assert f"Audit log altered on {_today()}: its digest file is missing" in _verify_fails()
    assert "Sealed 0 day(s)." in _seal_today()
    call_command("audit", "verify", stdout=io.StringIO())


def test_catching_up_never_writes_the_file_of_a_forged_seal():
    _sealed_three_days()
    digest_path(_today()).unlink()
    with pgtrigger.ignore(SEAL_APPEND_ONLY):
        AuditSeal.objects.filter(day=_today()).update(row_count=0)
    _seal_today()
    assert not digest_path(_today()).exists()
    assert f"Audit log altered on {_today()}: its seal's signature does not hold" in (
        _verify_fails()
    )


def test_verify_allows_today_and_a_yesterday_not_sealed_yet_but_not_the_day_before(capsys):
    _audit_row(_days_ago(1))
    RoomFactory()
    call_command("audit", "verify")
    assert "0 sealed day(s) verified" in capsys.readouterr().out

    _audit_row(_days_ago(2))
    output = _verify_fails()
    assert f"Audit log altered on {_days_ago(2)}: it has audit rows but no seal." in output
    assert _days_ago(1).isoformat() not in output


def test_verify_fails_on_a_row_dated_after_the_last_seal_that_is_not_today():
    _sealed_three_days()
    _audit_row(datetime.date(2032, 3, 3))
    assert "Audit log altered on 2032-03-03: it has audit rows but no seal." in _verify_fails()
