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
from audit.models import JobRun
from stayos.partitioning.archive import ArchiveError, Manifest, restore_archive
from stayos.partitioning.catalog import configured_tables, partitions_being_built, table_status
from stayos.partitioning.maintenance import MAINTENANCE_LOCK, MaintenanceFailed, Result, maintain


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
            for name in partitions_being_built(table.table):
                self.stdout.write(f"  {name}: half-built by an interrupted run (resumed next run)")
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
            result = maintain(table_name=options.get("table"), dry_run=True)
            for step in result.steps:
                self.stdout.write(f"would {step.describe()}")
            self._report_failures(result, "could not plan")
            self.stdout.write(f"Dry run: {len(result.steps)} step(s) planned, nothing changed.")
            return
        job = "command:partitions maintain"
        try:
            with context(source=job), job_run(job, lock=MAINTENANCE_LOCK) as run:
                if run.status == JobRun.Status.SKIPPED:
                    result = Result(skipped=True)
                else:
                    result = maintain(table_name=options.get("table"))
                    run.result = result.summary()
                    result.raise_if_failed()
        except MaintenanceFailed:
            for line in result.applied:
                self.stdout.write(line)
            self._report_failures(result, "maintenance failed")
        except (DatabaseError, ArchiveError) as error:
            raise CommandError(f"Maintenance stopped, nothing half-applied: {error}") from error
        if result.skipped:
            self.stdout.write("Another maintenance run holds the lock; nothing done.")
            return
        for line in result.applied:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"Maintenance done: {len(result.applied)} step(s)."))

    def _report_failures(self, result: Result, what: str) -> None:
        """Each table stands alone: say which ones failed and exit non-zero."""
        if not result.failed:
            return
        done = [table for table, status in result.tables.items() if status == "ok"]
        for table, error in result.failed.items():
            self.stderr.write(f"{table}: {what}: {error}")
        raise CommandError(
            f"Partition maintenance failed for {', '.join(result.failed)}"
            + (f"; {', '.join(done)} maintained." if done else ".")
        )

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
