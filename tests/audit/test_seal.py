"""Seals prove the audit log was not altered; verify names the first day that was."""

from __future__ import annotations

import datetime
import io
import itertools

import pytest
from dateutil.relativedelta import relativedelta
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase
from freezegun import freeze_time

from audit.models import AuditSeal
from tests.concurrency import run_concurrently
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db


def _today() -> datetime.date:
    """The UTC day of the database's now(): in a test's transaction, the day its rows carry.

    Read from PostgreSQL, not from Python's clock, so a test running across midnight still
    seals and checks the day its rows were written on.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT (now() AT TIME ZONE 'UTC')::date")
        return cursor.fetchone()[0]


def _noon(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)


def _seal_today() -> None:
    """The nightly seal, run tomorrow: today is then a finished day."""
    with (
        freeze_time(_noon(_today() + datetime.timedelta(days=1))),
        TestCase.captureOnCommitCallbacks(execute=True),  # the digest files, after commit
    ):
        call_command("audit", "seal", stdout=io.StringIO())


def test_it_refuses_to_seal_a_day_that_is_not_over():
    RoomFactory()
    with freeze_time(_noon(_today())), pytest.raises(CommandError, match="is not over yet"):
        call_command("audit", "seal", "--through", _today().isoformat())
    assert not AuditSeal.objects.exists()


def test_verify_fails_when_a_month_inside_retention_is_dropped():
    room = RoomFactory()
    _seal_today()
    entry_partition = (
        connection.cursor()
        .execute("SELECT tableoid::regclass::text FROM audit_log WHERE row_id = %s", [room.pk])
        .fetchone()[0]
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE audit_log DETACH PARTITION {entry_partition}")
    with pytest.raises(CommandError, match="rows no longer match"):
        call_command("audit", "verify")


def test_verify_passes_on_an_untouched_log(capsys):
    RoomFactory.create_batch(3)
    _seal_today()
    seal = AuditSeal.objects.get(day=_today())
    assert seal.row_count >= 3
    call_command("audit", "verify")
    assert "1 sealed day(s) verified:" in capsys.readouterr().out


def test_sealing_twice_adds_nothing():
    RoomFactory()
    _seal_today()
    _seal_today()
    assert AuditSeal.objects.count() == 1


def test_verify_fails_naming_the_day_after_a_row_is_altered_behind_the_triggers():
    room = RoomFactory(notes="")
    _seal_today()
    with connection.cursor() as cursor:
        # What someone with superuser rights could do: switch the triggers off and edit.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE audit_log SET new = jsonb_set(new, '{notes}', '\"forged\"') WHERE row_id = %s",
            [room.pk],
        )
        cursor.execute("SET LOCAL session_replication_role = origin")
    with pytest.raises(CommandError, match=f"Audit log altered on {_today()}"):
        call_command("audit", "verify")


def test_verify_fails_when_a_row_is_deleted_behind_the_triggers():
    room = RoomFactory()
    _seal_today()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM audit_log WHERE row_id = %s", [room.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    with pytest.raises(CommandError, match="rows no longer match"):
        call_command("audit", "verify", "--since", _today().isoformat())


def test_the_seals_chain_day_to_day():
    RoomFactory()
    yesterday = _today() - datetime.timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_log (occurred_at, table_name, row_id, action, changed_fields,"
            " transaction_id) VALUES (%s, 'stayos_room', gen_random_uuid(), 'insert', '{}', 1)",
            [_noon(yesterday)],
        )
    _seal_today()
    first, second = AuditSeal.objects.order_by("day")
    assert (first.day, second.day) == (yesterday, _today())
    assert second.previous_seal == first.seal


def test_days_archived_past_retention_still_verify_by_their_chain(settings, tmp_path):
    settings.ARCHIVE_DIR = tmp_path
    settings.AUDIT_RETENTION_MONTHS = 0
    RoomFactory()
    _seal_today()
    a_year_later = _noon(_today()) + relativedelta(years=1)  # 29 February has no twin
    with freeze_time(a_year_later):
        call_command("partitions", "maintain", "--table", "audit_log", stdout=io.StringIO())
        call_command("audit", "verify")  # the day's rows are in the archive now, not the table

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE audit_seal SET row_count = row_count + 1")
        cursor.execute("SET LOCAL session_replication_role = origin")
    with (
        freeze_time(a_year_later),
        pytest.raises(CommandError, match="the seal itself was altered"),
    ):
        call_command("audit", "verify")


@pytest.mark.django_db(transaction=True)
def test_two_seal_runs_at_once_seal_each_day_once_in_one_chain():
    today = _today()
    days = [today - datetime.timedelta(days=back) for back in (3, 2, 1)]
    with connection.cursor() as cursor:
        for day in days:
            cursor.execute(
                "INSERT INTO audit_log (occurred_at, table_name, row_id, action,"
                " changed_fields, transaction_id)"
                " VALUES (%s, 'stayos_room', gen_random_uuid(), 'insert', '{}', 1)",
                [_noon(day)],
            )

    def seal() -> str:
        out = io.StringIO()
        call_command("audit", "seal", stdout=out)
        return out.getvalue()

    outputs = [outcome.value() for outcome in run_concurrently(seal, seal)]

    seals = list(AuditSeal.objects.order_by("day"))
    # Days before today, each once; a run past midnight may add the (empty) day just over.
    assert [seal.day for seal in seals][:3] == days
    assert all(
        later.day - earlier.day == datetime.timedelta(days=1)
        for earlier, later in itertools.pairwise(seals)
    )
    assert seals[0].previous_seal == ""
    assert all(later.previous_seal == earlier.seal for earlier, later in itertools.pairwise(seals))
    assert sum(int(output.split("Sealed ")[1].split(" ")[0]) for output in outputs) == len(seals)
    call_command("audit", "verify", stdout=io.StringIO())
