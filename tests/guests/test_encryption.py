"""Personal data at rest: ciphertext in the table and the audit log, look-ups by keyed hash."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import FieldError
from django.db import connection

from guests import pii
from guests.apps import check_pii_keys
from guests.models import Guest
from guests.selectors import guest_find_by_document
from tests.factories import GuestFactory

pytestmark = pytest.mark.django_db

SECRETS = ("X1234567", "1985-04-12", "Rua Augusta", "Allergic to peanuts")


def _raw_row(guest: Guest) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_jsonb(g)::text FROM guests_guest g WHERE id = %s", [guest.pk])
        return cursor.fetchone()[0]


def _audit_images(guest: Guest) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(string_agg(concat(old::text, new::text), ' '), '')"
            " FROM audit_log WHERE row_id = %s",
            [guest.pk],
        )
        return cursor.fetchone()[0]


def test_it_stores_no_plaintext_document_number_or_date_of_birth():
    guest = GuestFactory(
        document_number="X1234567",
        date_of_birth=datetime.date(1985, 4, 12),
        address="Rua Augusta 100",
        notes="Allergic to peanuts",
    )
    raw = _raw_row(guest)
    for secret in SECRETS:
        assert secret not in raw
    assert '"document_number": "' + pii.current_key_id() + "$" in raw
    # The audit log keeps row images: ciphertext there too.
    guest.notes = "Allergic to peanuts and shellfish"
    guest.save()
    images = _audit_images(guest)
    assert images
    for secret in SECRETS:
        assert secret not in images


def test_the_orm_reads_back_the_plaintext():
    guest = GuestFactory(document_number="X1234567", date_of_birth=datetime.date(1985, 4, 12))
    fresh = Guest.objects.get(pk=guest.pk)
    assert fresh.document_number == "X1234567"
    assert fresh.date_of_birth == datetime.date(1985, 4, 12)


def test_it_finds_a_guest_by_document_number_through_the_blind_index_only():
    guest = GuestFactory(document_number="AB123456")
    GuestFactory(property=guest.property, document_number="AB123457")
    found = guest_find_by_document(property=guest.property, number="ab 123-456")
    assert list(found) == [guest]
    sql = str(found.query)
    assert "document_number_index" in sql
    assert "AB123456" not in sql


def test_it_refuses_equality_look_ups_on_ciphertext():
    with pytest.raises(FieldError, match="Unsupported lookup 'exact'"):
        list(Guest.objects.filter(document_number="AB123456"))
    with pytest.raises(FieldError, match="Unsupported lookup 'year'"):
        list(Guest.objects.filter(date_of_birth__year=1985))


def test_a_changed_ciphertext_does_not_decrypt():
    guest = GuestFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE guests_guest SET document_number = overlay(document_number placing"
            " 'AAAA' from 12 for 4) WHERE id = %s",
            [guest.pk],
        )
    with pytest.raises(pii.PIIDecryptionError, match="altered"):
        Guest.objects.get(pk=guest.pk)


def test_a_ciphertext_moved_to_another_column_does_not_decrypt():
    guest = GuestFactory()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE guests_guest SET notes = document_number WHERE id = %s", [guest.pk])
    with pytest.raises(pii.PIIDecryptionError):
        Guest.objects.get(pk=guest.pk)


def test_it_refuses_to_start_without_keys(settings):
    settings.GUEST_PII_KEYS = []
    [error] = check_pii_keys()
    assert error.id == "guests.E001"
    settings.GUEST_PII_KEYS = ["k1:not-base64!"]
    assert "base64" in check_pii_keys()[0].msg
    settings.GUEST_PII_KEYS = [f"k1:{pii.generate_key()}"]
    settings.GUEST_PII_INDEX_KEY = ""
    assert "GUEST_PII_INDEX_KEY" in check_pii_keys()[0].msg
