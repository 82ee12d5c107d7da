"""Guests' personal data at rest: AES-256-GCM in the application, HMAC-SHA256 blind indexes.

Why in the application rather than pgcrypto: with pgcrypto the key travels inside every SQL
statement, so it can surface in the server log (``log_min_duration_statement``, errors),
``pg_stat_statements``, ``pg_stat_activity`` and anyone's ``auto_explain``; here PostgreSQL,
its logs, its backups and the audit log's row images only ever see ciphertext, and a
database dump alone discloses nothing. AES-GCM is authenticated: a changed byte, or a
ciphertext moved to another column, fails to decrypt instead of decrypting to garbage.

Stored form (a ``text`` column): ``<key id>$<base64url(nonce || ciphertext || tag)>``. The key
id says which key of ``GUEST_PII_KEYS`` sealed the value, so rotation can tell re-encrypted
rows from the rest with a plain ``split_part`` and resume where it stopped.
The associated data binds each value to its table and column (``purpose``).

Exact look-ups never decrypt or scan: a keyed hash of the normalized value (the blind index)
is stored next to the ciphertext and compared instead. The index key is separate from the
encryption keys, so the two can be held and rotated apart.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import hmac
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
SEPARATOR = "$"
NONCE_BYTES = 12
KEY_BYTES = 32


class PIIKeyError(ImproperlyConfigured):
    """GUEST_PII_KEYS or GUEST_PII_INDEX_KEY is missing or malformed."""


class PIIDecryptionError(Exception):
    """A stored value cannot be decrypted: unknown key id, or it was altered."""


@dataclasses.dataclass(frozen=True)
class Keyring:
    current_id: str
    ciphers: dict[str, AESGCM]
    index_key: bytes


def _decode_key(encoded: str, *, name: str) -> bytes:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise PIIKeyError(f"{name} is not valid base64.") from error
    if len(key) != KEY_BYTES:
        raise PIIKeyError(f"{name} must be {KEY_BYTES} bytes (base64), not {len(key)}.")
    return key


@functools.lru_cache(maxsize=8)
def _keyring(keys: tuple[str, ...], index_key: str) -> Keyring:
    if not keys:
        raise PIIKeyError("GUEST_PII_KEYS is not set (see .env.example).")
    ciphers: dict[str, AESGCM] = {}
    for entry in keys:
        key_id, _, encoded = entry.strip().partition(":")
        if not KEY_ID.match(key_id) or not encoded:
            raise PIIKeyError(
                "GUEST_PII_KEYS entries are key-id:base64-key, key ids made of letters, "
                "digits, - or _ (at most 16)."
            )
        if key_id in ciphers:
            raise PIIKeyError(f"GUEST_PII_KEYS names key id {key_id!r} twice.")
        ciphers[key_id] = AESGCM(_decode_key(encoded, name=f"GUEST_PII_KEYS key {key_id!r}"))
    if not index_key:
        raise PIIKeyError("GUEST_PII_INDEX_KEY is not set (see .env.example).")
    return Keyring(
        current_id=next(iter(ciphers)),
        ciphers=ciphers,
        index_key=_decode_key(index_key, name="GUEST_PII_INDEX_KEY"),
    )


def keyring() -> Keyring:
    """The keys in force, read from settings (cached per settings value)."""
    return _keyring(tuple(settings.GUEST_PII_KEYS), settings.GUEST_PII_INDEX_KEY)


def current_key_id() -> str:
    return keyring().current_id


def generate_key() -> str:
    """A new random key, base64, for GUEST_PII_KEYS or GUEST_PII_INDEX_KEY."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def encrypt(plaintext: str, *, purpose: str) -> str:
    """Seal ``plaintext`` with the current key; ``purpose`` names the column it is for."""
    ring = keyring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = ring.ciphers[ring.current_id].encrypt(nonce, plaintext.encode(), purpose.encode())
    return f"{ring.current_id}{SEPARATOR}{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(stored: str, *, purpose: str) -> str:
    """Open a value sealed by ``encrypt`` with any key still in the keyring."""
    key_id, separator, body = stored.partition(SEPARATOR)
    if not separator:
        raise PIIDecryptionError(f"Not an encrypted value (no key id) for {purpose}.")
    cipher = keyring().ciphers.get(key_id)
    if cipher is None:
        raise PIIDecryptionError(
            f"Value of {purpose} is sealed with key {key_id!r}, which is not in "
            "GUEST_PII_KEYS (keep old keys listed until `manage.py guests rotate_key` is done)."
        )
    try:
        raw = base64.urlsafe_b64decode(body.encode())
        return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode()).decode()
    except (InvalidTag, binascii.Error, ValueError) as error:
        raise PIIDecryptionError(f"Value of {purpose} was altered or is corrupt.") from error


def key_id_of(stored: str) -> str:
    return stored.partition(SEPARATOR)[0]


def blind_index(normalized: str, *, purpose: str) -> str:
    """Keyed hash (hex) of an already normalized value, for exact look-ups without plaintext."""
    message = f"{purpose}\x00{normalized}".encode()
    return hmac.new(keyring().index_key, message, hashlib.sha256).hexdigest()
