from __future__ import annotations

import pgtrigger
import pytest
from django.core.management.commands import flush
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
