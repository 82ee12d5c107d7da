"""manage.py partitions status | maintain [--dry-run] [--table NAME] | restore MANIFEST."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.template.defaultfilters import filesizeformat

from audit.context import context
from audit.jobs import job_run
from stayos.partitioning.archive import ArchiveError, Manifest, restore_archive
from stayos.partitioning.catalog import configured_tables, table_status
from stayos.partitioning.maintenance import maintain


class Command(BaseCommand):
    help = "Inspect and maintain the monthly partitions of the audit log, events and ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        status = sub.add_parser("status", help="Partitions, coverage, sizes, retention due.")
        status.add_argument("--table", help="Only this table (e.g. audit_log).")
        run = sub.add_parser(
            "maintain", help="Create ahead, sweep DEFAULT, archive then drop past retention."
        )
        run.add_argument("--table", help="Only this table (e.g. audit_log).")
        run.add_argument("--dry-run", action="store_true", help="Print the plan, change nothing.")
        restore = sub.add_parser("restore", help="Load an archived partition into a new table.")
        restore.add_argument("manifest", type=Path, help="Path to NAME.manifest.json.")
        restore.add_argument("--into", help="Table to create (default: <partition>_restored).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options.get("table"):
                configured_tables(options["table"])
            getattr(self, f"_{options['action']}")(options)
        except LookupError as error:
            raise CommandError(str(error)) from error

    def _status(self, options: dict) -> None:
        for table in configured_tables(options.get("table")):
            status = table_status(table)
            self.stdout.write(self.style.MIGRATE_HEADING(table.table))
            self.stdout.write(
                f"  covered until {status.covered_until:%Y-%m-%d} ({status.months_ahead}"
                f" month(s) ahead, {settings.PARTITIONS_MONTHS_AHEAD} wanted)"
                if status.covered_until
                else "  this month has NO partition"
            )
            self.stdout.write(
                f"  retention {table.retention_months} months:"
                f" keeps data from {status.retention_cutoff:%Y-%m-%d}"
            )
            self.stdout.write(f"  DEFAULT partition rows: {status.default_rows}")
            for partition in status.partitions:
                span = (
                    "DEFAULT"
                    if partition.is_default
                    else f"{partition.start:%Y-%m-%d} → {partition.end:%Y-%m-%d}"
                )
                due = "  retention due" if status.past_retention(partition) else ""
                self.stdout.write(
                    f"  {partition.name:<32} {span:<25} ~{partition.rows_estimate:>10} rows"
                    f" {filesizeformat(partition.bytes):>10}{due}"
                )

    def _maintain(self, options: dict) -> None:
        if options["dry_run"]:
            steps = maintain(table_name=options.get("table"), dry_run=True).steps
            for step in steps:
                self.stdout.write(f"would {step.describe()}")
            self.stdout.write(f"Dry run: {len(steps)} step(s) planned, nothing changed.")
            return
        try:
            with (
                context(source="command:partitions maintain"),
                job_run("command:partitions maintain") as run,
            ):
                result = maintain(table_name=options.get("table"))
                run.result = result.summary()
        except (DatabaseError, ArchiveError) as error:
            raise CommandError(f"Maintenance stopped, nothing half-applied: {error}") from error
        if result.skipped:
            self.stdout.write("Another maintenance run holds the lock; nothing done.")
            return
        for line in result.applied:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"Maintenance done: {len(result.applied)} step(s)."))

    def _restore(self, options: dict) -> None:
        manifest: Path = options["manifest"]
        if not manifest.is_file():
            raise CommandError(f"No manifest at {manifest}.")
        into = options.get("into") or f"{Manifest.load(manifest).partition}_restored"
        try:
            rows = restore_archive(manifest, into=into)
        except (ArchiveError, DatabaseError) as error:
            raise CommandError(f"Restore refused: {error}") from error
        self.stdout.write(self.style.SUCCESS(f"Restored {rows} row(s) into {into}."))
