"""pgtrigger.ignore still opens the blessed path, and the check costs no subtransaction."""

from __future__ import annotations

import pgtrigger
import pytest
from django.db import DatabaseError, connection, transaction

from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db


def test_the_ignore_check_is_plain_sql():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
            " WHERE p.proname = '_pgtrigger_should_ignore'"
        )
        assert cursor.fetchone()[0] == "sql"  # no PL/pgSQL EXCEPTION block, no subtransaction


def test_ignore_lets_one_blessed_path_through_and_nothing_else():
    RoomFactory()
    with pgtrigger.ignore("audit.AuditLog:append_only"), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_log SET reason = 'blessed' WHERE action = 'insert'")
        assert cursor.rowcount >= 1
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_log SET reason = 'not blessed'")
