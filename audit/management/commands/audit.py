"""manage.py audit seal | verify | generate_key: tamper evidence for the audit log."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.context import context
from audit.sealing import DigestConflict, SealKeyError, generate_key
from audit.selectors import seals_verify
from audit.services import SealError, audit_seal


class Command(BaseCommand):
    help = "Seal finished days of the audit log, verify the seals, or make a signing key."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        seal = sub.add_parser("seal", help="Seal every finished day not sealed yet.")
        seal.add_argument(
            "--through",
            type=datetime.date.fromisoformat,
            help="Last day to seal, YYYY-MM-DD (default: yesterday, UTC).",
        )
        verify = sub.add_parser(
            "verify",
            help="Check signatures, chain, digest files, unsealed days and rows; "
            "exit 1 naming each day that fails.",
        )
        verify.add_argument(
            "--since", type=datetime.date.fromisoformat, help="First day to check, YYYY-MM-DD."
        )
        sub.add_parser("generate_key", help="Print a new Ed25519 private key for AUDIT_SEAL_KEY.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "generate_key":
            key, public = generate_key()
            self.stdout.write(f"AUDIT_SEAL_KEY={key}")
            self.stdout.write(
                f"# Its public key, for a verifier's AUDIT_SEAL_PUBLIC_KEYS: {public}"
            )
            return
        if options["action"] == "seal":
            try:
                with context(source="command:audit seal"):
                    sealed = audit_seal(through=options["through"])
            except (SealError, SealKeyError, DigestConflict) as error:
                raise CommandError(str(error)) from error
            for seal in sealed:
                self.stdout.write(f"{seal.day}: {seal.row_count} rows, seal {seal.seal[:16]}…")
            self.stdout.write(self.style.SUCCESS(f"Sealed {len(sealed)} day(s)."))
            return
        try:
            checks = seals_verify(since=options["since"])
        except SealKeyError as error:
            raise CommandError(str(error)) from error
        failed = [check for check in checks if not check.ok]
        if failed:
            days = sorted({check.day for check in failed})
            raise CommandError(
                "\n".join(
                    f"Audit log altered on {check.day}: {check.problem}." for check in failed
                )
                + f"\n{len(days)} day(s) failed verification."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(checks)} sealed day(s) verified: signatures, chain, digest files and rows."
            )
        )
