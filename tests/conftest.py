from __future__ import annotations

import pgtrigger
import pytest
from django.core.management.commands import flush
from django.db import connection
from django.test import Client

from tests.factories import UserFactory


@pytest.fixture
def staff_user(db):
    return UserFactory(username="maria", first_name="Maria", last_name="Santos")


@pytest.fixture
def admin_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


APPEND_ONLY_TRUNCATE = [
    f"{model}:append_only_truncate"
    for model in ("audit.AuditLog", "audit.DomainEvent", "audit.AuditSeal")
]


@pytest.fixture(scope="session", autouse=True)
def _flush_may_empty_append_only_tables():
    """Transactional tests end with a TRUNCATE of every table, the audit log included.

    Production keeps refusing TRUNCATE on append-only tables; only the test runner's flush
    goes through pgtrigger's blessed-path switch.
    """
    original = flush.Command.handle

    def handle(self, *args, **options):
        with pgtrigger.ignore(*APPEND_ONLY_TRUNCATE):
            return original(self, *args, **options)

    flush.Command.handle = handle
    yield
    flush.Command.handle = original


def _partitions() -> set[str]:
    from config.partitioning import PARTITIONED_TABLES

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent::regclass::text = ANY(%s)",
            [[table.table for table in PARTITIONED_TABLES]],
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.fixture(autouse=True)
def _drop_partitions_a_transactional_test_made(request):
    """A transaction=True test commits; the flush after it empties tables but keeps the
    partitions its maintenance runs created (2031's months, say), and a later test would
    find a month already there that it expects to be missing. Drop them again."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not (marker.kwargs.get("transaction") or marker.args[:1] == (True,)):
        yield
        return
    request.getfixturevalue("transactional_db")
    before = _partitions()
    yield
    with connection.cursor() as cursor:
        for name in sorted(_partitions() - before):
            cursor.execute(f'DROP TABLE "{name}"')


@pytest.fixture(autouse=True)
def _audit_digest_files_per_test(settings, tmp_path):
    """Each test seals into its own digest folder: files outlive the test's transaction, and
    a day sealed again by a later test (other rows, same day) would be a digest conflict."""
    settings.AUDIT_DIGEST_DIR = tmp_path / "audit-digests"
