"""manage.py audit seal | verify: tamper evidence for the audit log."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.context import context
from audit.selectors import seals_verify
from audit.services import SealError, audit_seal


class Command(BaseCommand):
    help = "Seal finished days of the audit log, or verify the seals against the rows."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        seal = sub.add_parser("seal", help="Seal every finished day not sealed yet.")
        seal.add_argument(
            "--through",
            type=datetime.date.fromisoformat,
            help="Last day to seal, YYYY-MM-DD (default: yesterday, UTC).",
        )
        verify = sub.add_parser(
            "verify", help="Recompute the seals; exit 1 at the first mismatch."
        )
        verify.add_argument(
            "--since", type=datetime.date.fromisoformat, help="First day to check, YYYY-MM-DD."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "seal":
            try:
                with context(source="command:audit seal"):
                    sealed = audit_seal(through=options["through"])
            except SealError as error:
                raise CommandError(str(error)) from error
            for seal in sealed:
                self.stdout.write(f"{seal.day}: {seal.row_count} rows, seal {seal.seal[:16]}…")
            self.stdout.write(self.style.SUCCESS(f"Sealed {len(sealed)} day(s)."))
            return
        checks = seals_verify(since=options["since"])
        failed = [check for check in checks if not check.ok]
        if failed:
            raise CommandError(f"Audit log altered on {failed[0].day}: {failed[0].problem}.")
        self.stdout.write(self.style.SUCCESS(f"{len(checks)} sealed day(s) verified."))
