"""manage.py guests anonymize|export|rotate_key|duplicates|generate_key."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from audit.context import context
from guests import pii
from guests.models import Guest
from guests.pii import PIIDecryptionError, PIIKeyError
from guests.selectors import guest_duplicates
from guests.services import guest_anonymize, guest_export, guest_rotate_pii_key
from stayos.models import Property


def _guest(value: str) -> Guest:
    try:
        pk = uuid.UUID(value)
    except ValueError:
        raise CommandError(f"“{value}” is not a guest id (a UUID).") from None
    guest = Guest.all_objects.select_related("property", "company").filter(pk=pk).first()
    if guest is None:
        raise CommandError(f"No guest with id {pk}.")
    return guest


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Guests' personal data: GDPR erasure and access, key rotation, duplicates."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        anonymize = sub.add_parser(
            "anonymize", help="Erase a guest's personal data; stays and folios are kept."
        )
        anonymize.add_argument("guest_id")
        anonymize.add_argument("--reason", default=None, help="Recorded in the audit log.")
        export = sub.add_parser("export", help="Write a guest's data as JSON (right of access).")
        export.add_argument("guest_id")
        export.add_argument("--output", type=Path, help="File to write (default: stdout).")
        rotate = sub.add_parser(
            "rotate_key",
            help="Re-encrypt every guest under the first key of GUEST_PII_KEYS; resumable.",
        )
        rotate.add_argument("--batch-size", type=_positive, default=500)
        rotate.add_argument(
            "--limit", type=_positive, default=None, help="Stop after this many guests."
        )
        duplicates = sub.add_parser("duplicates", help="List likely duplicate profiles.")
        duplicates.add_argument("--property", help="Property code, e.g. LIS1.")
        sub.add_parser("generate_key", help="Print a new random key for GUEST_PII_KEYS.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            with context(source=f"command:guests {action}"):
                getattr(self, f"handle_{action}")(**options)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        except (PIIDecryptionError, PIIKeyError) as error:
            raise CommandError(str(error)) from error

    def handle_anonymize(self, *, guest_id: str, reason: str | None, **options: Any) -> None:
        guest = guest_anonymize(guest=_guest(guest_id), actor=None, reason=reason)
        self.stdout.write(self.style.SUCCESS(f"Guest {guest.pk} anonymized."))

    def handle_export(self, *, guest_id: str, output: Path | None, **options: Any) -> None:
        data = guest_export(guest=_guest(guest_id), actor=None)
        text = json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
        if output is None:
            self.stdout.write(text)
            return
        output.write_text(text + "\n", encoding="utf-8")
        self.stderr.write(f"Written to {output}.")

    def handle_rotate_key(self, *, batch_size: int, limit: int | None, **options: Any) -> None:
        progress = guest_rotate_pii_key(actor=None, batch_size=batch_size, limit=limit)
        self.stdout.write(f"Re-encrypted {progress.rotated} guest(s) under key {progress.key_id}.")
        if progress.remaining:
            self.stdout.write(
                self.style.WARNING(
                    f"{progress.remaining} guest(s) still on older keys: run it again to go on."
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    "Every guest is on the current key; older keys can leave GUEST_PII_KEYS."
                )
            )

    def handle_duplicates(self, *, property: str | None, **options: Any) -> None:
        prop = None
        if property:
            prop = Property.objects.filter(code=property).first()
            if prop is None:
                raise CommandError(f"No property with code {property}.")
        pairs = guest_duplicates(property=prop)
        for pair in pairs:
            self.stdout.write(
                f"{pair.first.pk}  {pair.first}  ~  {pair.second.pk}  {pair.second}"
                f"  ({', '.join(pair.reasons)})"
            )
        self.stdout.write(f"{len(pairs)} likely duplicate pair(s).")

    def handle_generate_key(self, **options: Any) -> None:
        self.stdout.write(f"k{uuid.uuid4().hex[:8]}:{pii.generate_key()}")
