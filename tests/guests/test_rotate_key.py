"""manage.py guests rotate_key: every row onto the new key, in batches, resumable, nothing lost."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.models import AuditEntry
from guests import pii
from guests.models import Guest
from guests.selectors import guest_find_by_document, guests_on_old_keys
from tests.factories import GuestFactory, PropertyFactory

pytestmark = pytest.mark.django_db


def _key_ids() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT split_part(c, '$', 1) FROM guests_guest,"
            " unnest(ARRAY[document_number, date_of_birth, address, notes]) AS c"
            " WHERE c IS NOT NULL"
        )
        return {row[0] for row in cursor.fetchall()}


def _values() -> dict:
    return {
        guest.pk: (guest.document_number, guest.date_of_birth, guest.address, guest.notes)
        for guest in Guest.all_objects.all()
    }


def _rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("guests", "rotate_key", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def new_key(settings):
    old = list(settings.GUEST_PII_KEYS)
    settings.GUEST_PII_KEYS = [f"k2:{pii.generate_key()}", *old]
    return "k2"


def test_it_rotates_in_batches_and_resumes_after_an_interruption(settings):
    prop = PropertyFactory()
    GuestFactory.create_batch(5, property=prop, notes="Quiet room")
    deleted = GuestFactory(property=prop)
    Guest.objects.filter(pk=deleted.pk).update(deleted_at="2026-01-01T00:00:00Z")
    before = _values()
    versions = dict(Guest.all_objects.values_list("pk", "version"))
    old_key = pii.current_key_id()
    settings.GUEST_PII_KEYS = [f"k2:{pii.generate_key()}", *settings.GUEST_PII_KEYS]

    # "Interrupted" after one batch of two.
    output = _rotate("--batch-size", "2", "--limit", "2")
    assert "Re-encrypted 2 guest(s) under key k2." in output
    assert "4 guest(s) still on older keys" in output
    assert _key_ids() == {old_key, "k2"}
    assert guests_on_old_keys().count() == 4

    output = _rotate("--batch-size", "2")
    assert "Re-encrypted 4 guest(s)" in output
    assert "Every guest is on the current key" in output
    assert _key_ids() == {"k2"}

    # Without the old key every row still decrypts to what it was.
    settings.GUEST_PII_KEYS = settings.GUEST_PII_KEYS[:1]
    assert _values() == before
    # Same data, so no one's open edit form turns stale; the change is audited all the same.
    assert dict(Guest.all_objects.values_list("pk", "version")) == versions
    assert (
        AuditEntry.objects.filter(
            table_name="guests_guest", action="update", reason="guest personal data key rotation"
        ).count()
        == 6
    )
    # Look-ups by document keep working (the index key did not change).
    some = Guest.objects.first()
    assert list(guest_find_by_document(property=prop, number=some.document_number)) == [some]


def test_a_failed_batch_rolls_back_and_the_next_run_finishes(settings, monkeypatch):
    GuestFactory.create_batch(4)
    before = _values()
    settings.GUEST_PII_KEYS = [f"k2:{pii.generate_key()}", *settings.GUEST_PII_KEYS]
    real_encrypt = pii.encrypt
    calls = {"n": 0}

    def failing_encrypt(plaintext: str, *, purpose: str) -> str:
        calls["n"] += 1
        if calls["n"] > 6:  # fails inside the second batch of two guests
            raise RuntimeError("power cut")
        return real_encrypt(plaintext, purpose=purpose)

    monkeypatch.setattr(pii, "encrypt", failing_encrypt)
    with pytest.raises(RuntimeError, match="power cut"):
        _rotate("--batch-size", "2")
    monkeypatch.setattr(pii, "encrypt", real_encrypt)
    assert guests_on_old_keys().count() == 2  # the first batch stayed done

    assert "Re-encrypted 2 guest(s)" in _rotate()
    assert guests_on_old_keys().count() == 0
    assert _values() == before


def test_it_names_a_missing_old_key(settings):
    GuestFactory()
    settings.GUEST_PII_KEYS = [f"k2:{pii.generate_key()}"]
    with pytest.raises(CommandError, match="not in GUEST_PII_KEYS"):
        _rotate()


def test_it_refuses_a_zero_batch_size():
    with pytest.raises(CommandError, match="--batch-size"):
        _rotate("--batch-size", "0")
