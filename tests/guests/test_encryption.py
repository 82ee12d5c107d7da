"""Personal data at rest: ciphertext in the table and the audit log, look-ups by keyed hash."""

from __future__ import annotations

import base64
import datetime

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import FieldError
from django.db import connection

from guests import pii
from guests.apps import check_pii_keys
from guests.models import Guest
from guests.selectors import guest_find_by_document
from tests.factories import GuestFactory

pytestmark = pytest.mark.django_db

PLAINTEXT = {
    "document_number": "XQ7294KZ",
    "date_of_birth": "1985-04-12",
    "address": "Rua Augusta 100, 3.º esquerdo",
    "notes": "Allergic to peanuts",
}
# The date as any program might spell it out; the other values by every 6-character window.
DATE_SPELLINGS = ("1985-04-12", "12/04/1985", "12.04.1985", "19850412", "12-04-1985")


def _personal_guest() -> Guest:
    return GuestFactory(
        document_number=PLAINTEXT["document_number"],
        date_of_birth=datetime.date.fromisoformat(PLAINTEXT["date_of_birth"]),
        address=PLAINTEXT["address"],
        notes=PLAINTEXT["notes"],
    )


def _stored(guest: Guest) -> dict[str, str]:
    """The encrypted columns as PostgreSQL holds them, read with raw SQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(PLAINTEXT)} FROM guests_guest WHERE id = %s", [guest.pk]
        )
        return dict(zip(PLAINTEXT, cursor.fetchone(), strict=True))


def _raw_row(guest: Guest) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_jsonb(g)::text FROM guests_guest g WHERE id = %s", [guest.pk])
        return cursor.fetchone()[0]


def _fragments() -> list[str]:
    fragments = list(DATE_SPELLINGS)
    for column in ("document_number", "address", "notes"):
        text = PLAINTEXT[column]
        fragments += [text[start : start + 6] for start in range(len(text) - 5)]
    return fragments


def _audit_images(guest: Guest) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(string_agg(concat(old::text, new::text), ' '), '')"
            " FROM audit_log WHERE row_id = %s",
            [guest.pk],
        )
        return cursor.fetchone()[0]


def test_every_personal_column_holds_aes_gcm_ciphertext_under_the_current_key(settings):
    guest = _personal_guest()
    key_id, _, key = settings.GUEST_PII_KEYS[0].partition(":")
    cipher = AESGCM(base64.b64decode(key))
    for column, stored in _stored(guest).items():
        plaintext = PLAINTEXT[column].encode()
        stored_key_id, separator, body = stored.partition("$")
        assert (stored_key_id, separator) == (key_id, "$"), column
        sealed = base64.urlsafe_b64decode(body)
        assert len(sealed) == 12 + len(plaintext) + 16, column  # nonce, ciphertext, GCM tag
        assert plaintext not in sealed, column
        # Opens with the configured key and the column's own associated data, nothing else.
        nonce, ciphertext = sealed[:12], sealed[12:]
        assert cipher.decrypt(nonce, ciphertext, f"guests_guest.{column}".encode()) == plaintext


def test_no_piece_of_the_personal_data_is_anywhere_in_the_row():
    raw = _raw_row(_personal_guest()).lower()
    for fragment in _fragments():
        assert fragment.lower() not in raw, fragment


def test_the_same_value_twice_is_two_different_ciphertexts():
    first, second = _personal_guest(), _personal_guest()
    first_stored, second_stored = _stored(first), _stored(second)
    for column in PLAINTEXT:
        assert first_stored[column] != second_stored[column], column


def test_the_audit_log_keeps_no_personal_data_in_its_row_images():
    guest = _personal_guest()
    guest.notes = "Allergic to peanuts and shellfish"
    guest.save()
    images = _audit_images(guest).lower()
    assert '"document_type": "passport"' in images  # the images are there, not the PII
    for fragment in [*_fragments(), "shellfish"]:
        assert fragment.lower() not in images, fragment


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
