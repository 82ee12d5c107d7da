"""What makes a seal hold outside the database: its Ed25519 signature and its digest file.

The private key (``AUDIT_SEAL_KEY``) lives in the application's environment only; PostgreSQL
never sees it, so whoever can rewrite ``audit_log`` and ``audit_seal`` (the owner role, a
superuser, a restored backup) still cannot produce a seal that verifies. Each seal is also
written as one JSON file per day under ``AUDIT_DIGEST_DIR``: deleting seals from the database
leaves their files behind, and the files are compared with the seals both ways on verify
(the CloudTrail digest-file model). A seal's key is named by its fingerprint (SHA-256 of the
raw public key), so a rotated key's seals still verify when its public key is listed in
``AUDIT_SEAL_PUBLIC_KEYS``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from audit.models import AuditSeal

KEY_BYTES = 32
# Bumped if the signed material ever changes, so old seals keep verifying as they were signed.
MATERIAL_VERSION = "stayos-audit-seal/1"
DIGEST_FILE_MODE = 0o644


class SealKeyError(ImproperlyConfigured):
    """AUDIT_SEAL_KEY / AUDIT_SEAL_PUBLIC_KEYS is missing or malformed."""


class DigestConflict(Exception):
    """A day's digest file exists with other content: it is never overwritten."""


# Keys -------------------------------------------------------------------------------------


def generate_key() -> tuple[str, str]:
    """A new Ed25519 key pair, base64 of the raw bytes: (AUDIT_SEAL_KEY, its public key)."""
    key = Ed25519PrivateKey.generate()
    return base64.b64encode(key.private_bytes_raw()).decode(), public_key_text(key.public_key())


def _decode(encoded: str, *, name: str) -> bytes:
    # The messages never include the value: it may be a private key.
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise SealKeyError(f"{name} is not valid base64.") from error
    if len(raw) != KEY_BYTES:
        raise SealKeyError(f"{name} must be {KEY_BYTES} bytes (base64), not {len(raw)}.")
    return raw


@functools.lru_cache(maxsize=4)
def _private_key(encoded: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_decode(encoded, name="AUDIT_SEAL_KEY"))


def signing_key() -> Ed25519PrivateKey:
    """The key new seals are signed with; SealKeyError without one."""
    if not settings.AUDIT_SEAL_KEY:
        raise SealKeyError(
            "AUDIT_SEAL_KEY is not set: audit seals cannot be signed. "
            "`manage.py audit generate_key` prints one (see .env.example)."
        )
    return _private_key(settings.AUDIT_SEAL_KEY)


def public_key_text(key: Ed25519PublicKey) -> str:
    """Base64 of the raw public key, as AUDIT_SEAL_PUBLIC_KEYS lists it."""
    return base64.b64encode(key.public_bytes_raw()).decode()


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex: names the key a seal was signed with."""
    return hashlib.sha256(key.public_bytes_raw()).hexdigest()


def verifying_keys() -> dict[str, Ed25519PublicKey]:
    """Every public key a seal may be signed with, by fingerprint; SealKeyError if none."""
    keys = []
    if settings.AUDIT_SEAL_KEY:
        keys.append(signing_key().public_key())
    for index, encoded in enumerate(settings.AUDIT_SEAL_PUBLIC_KEYS):
        raw = _decode(encoded, name=f"AUDIT_SEAL_PUBLIC_KEYS entry {index + 1}")
        keys.append(Ed25519PublicKey.from_public_bytes(raw))
    if not keys:
        raise SealKeyError(
            "Neither AUDIT_SEAL_KEY nor AUDIT_SEAL_PUBLIC_KEYS is set: "
            "the seals' signatures cannot be checked."
        )
    return {fingerprint(key): key for key in keys}


# Signatures -------------------------------------------------------------------------------


def signed_material(seal: AuditSeal, *, previous_signature: str) -> bytes:
    """What a seal's signature covers: the day, its rows, the chain, and the key's name.

    The previous seal's signature is in it too, so a chain cannot be re-grown from a forged
    day onwards by anyone without the key, even one who recomputes every SHA-256.
    """
    return "\n".join(
        [
            MATERIAL_VERSION,
            seal.day.isoformat(),
            str(seal.row_count),
            seal.rows_digest,
            seal.previous_seal,
            previous_signature,
            seal.seal,
            seal.key_fingerprint,
        ]
    ).encode()


def sign(seal: AuditSeal, *, previous_signature: str) -> None:
    """Fill in ``key_fingerprint`` and ``signature`` of an unsaved seal."""
    key = signing_key()
    seal.key_fingerprint = fingerprint(key.public_key())
    material = signed_material(seal, previous_signature=previous_signature)
    seal.signature = base64.b64encode(key.sign(material)).decode()


def signature_problem(
    seal: AuditSeal, *, previous_signature: str, keys: dict[str, Ed25519PublicKey]
) -> str:
    """Why a seal's signature does not hold, or "" when it does."""
    if not seal.signature:
        return "its seal is not signed"
    key = keys.get(seal.key_fingerprint)
    if key is None:
        return (
            f"its seal is signed by a key not in AUDIT_SEAL_KEY or AUDIT_SEAL_PUBLIC_KEYS "
            f"(fingerprint {seal.key_fingerprint[:16] or 'none'})"
        )
    try:
        key.verify(
            base64.b64decode(seal.signature),
            signed_material(seal, previous_signature=previous_signature),
        )
    except (InvalidSignature, binascii.Error, ValueError):
        return "its seal's signature does not hold (the seal was altered or forged)"
    return ""


# Digest files -----------------------------------------------------------------------------


def digest_document(seal: AuditSeal, *, previous_signature: str) -> str:
    """A seal's digest file, byte for byte: the same seal always gives the same text."""
    document = {
        "day": seal.day.isoformat(),
        "row_count": seal.row_count,
        "hash": seal.rows_digest,
        "previous": seal.previous_seal,
        "previous_signature": previous_signature,
        "seal": seal.seal,
        "signature": seal.signature,
        "fingerprint": seal.key_fingerprint,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def digest_path(day: datetime.date) -> Path:
    return Path(settings.AUDIT_DIGEST_DIR) / f"{day.isoformat()}.json"


def digest_write(day: datetime.date, text: str) -> Path:
    """Write a day's digest file durably, once; the same content again is a no-op.

    Through a temporary file, fsync, then a hard link that claims the name exclusively (a
    rename would silently replace a file that appeared meanwhile). A file already there with
    other content raises DigestConflict: it is evidence, never overwritten.
    """
    path = digest_path(day)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _same_or_conflict(path, text)
        return path
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fchmod(file.fileno(), DIGEST_FILE_MODE)
            os.fsync(file.fileno())
        try:
            os.link(partial, path)
        except FileExistsError:
            _same_or_conflict(path, text)
    finally:
        os.unlink(partial)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path


def _same_or_conflict(path: Path, text: str) -> None:
    if path.read_text(encoding="utf-8") != text:
        raise DigestConflict(
            f"The digest file {path} exists with other content than the seal being made: "
            "it is never overwritten. Run `manage.py audit verify`."
        )


def _digest_paths() -> dict[datetime.date, Path]:
    directory = Path(settings.AUDIT_DIGEST_DIR)
    if not directory.is_dir():
        return {}
    paths = {}
    for path in directory.glob("*.json"):
        try:
            paths[datetime.date.fromisoformat(path.stem)] = path
        except ValueError:
            continue
    return paths


def digest_files() -> dict[datetime.date, str]:
    """Every day's digest file under AUDIT_DIGEST_DIR, by day (none when the folder is gone)."""
    return {
        day: path.read_text(encoding="utf-8", errors="replace")
        for day, path in _digest_paths().items()
    }


def last_digest_day() -> datetime.date | None:
    """The latest day a digest file was written for."""
    return max(_digest_paths(), default=None)
