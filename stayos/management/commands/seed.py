"""manage.py seed: load the demo hotel group; idempotent, reproducible, --reset rebuilds."""

from __future__ import annotations

import datetime
import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import transaction
from django.utils import timezone

from audit.context import context
from stayos.partitioning.maintenance import maintain
from stayos.seeding import SeedPlan, seeding_modules, staff_roles_setup

# Beyond this, --scale is a typo more likely than a wish (and days of disk).
MAX_SCALE = 20_000_000


class Command(BaseCommand):
    help = "Load a demo hotel group. A second run changes nothing; --reset rebuilds it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--random-seed", type=int, default=2026, help="Same seed, same data (default 2026)."
        )
        parser.add_argument(
            "--today",
            type=datetime.date.fromisoformat,
            default=None,
            help="Date the demo is built around, YYYY-MM-DD (default: today).",
        )
        parser.add_argument(
            "--reset", action="store_true", help="Delete the demo data first, then seed again."
        )
        parser.add_argument(
            "--roles-only",
            action="store_true",
            help="Only create or update the staff role groups, no demo data (for production).",
        )
        parser.add_argument(
            "--scale",
            type=int,
            default=None,
            metavar="N",
            help="Then grow the demo to N guests (and their audit rows), in committed batches;"
            " never shrinks. 1,000,000 takes a few minutes.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["random_seed"] < 0:
            raise CommandError("--random-seed must be zero or positive.")
        if options["roles_only"] and options["reset"]:
            raise CommandError("--roles-only leaves the demo data alone; drop --reset.")
        scale = options["scale"]
        if scale is not None:
            if options["roles_only"]:
                raise CommandError("--roles-only makes no demo data; drop --scale.")
            if not 1 <= scale <= MAX_SCALE:
                raise CommandError(f"--scale takes a number of guests from 1 to {MAX_SCALE:,}.")
        plan = SeedPlan(
            random_seed=options["random_seed"],
            today=options["today"] or timezone.localdate(),
        )
        with context(source="command:seed", reason="demo data"), transaction.atomic():
            if not options["roles_only"]:
                self._seed_demo(plan, reset=options["reset"])
            try:
                roles = staff_roles_setup()
            except ImproperlyConfigured as error:
                raise CommandError(str(error)) from error
            summary = ", ".join(f"{role} {count}" for role, count in roles.items())
            self.stdout.write(f"staff roles (permissions): {summary}")
        if scale is not None:
            self._scale(plan, scale)
        self.stdout.write(self.style.SUCCESS("Seed complete."))

    def _scale(self, plan: SeedPlan, size: int) -> None:
        # Outside the demo's transaction: each batch commits on its own, so a run stopped
        # half-way keeps what it made and the next run carries on from there.
        # The audit rows are dated now: their month's partition must exist before the COPYs.
        maintain(retention=False).raise_if_failed()
        with context(source="command:seed", reason="demo data at scale"):
            for label, module in seeding_modules():
                if not hasattr(module, "scale"):
                    continue
                started = time.monotonic()
                bar = ProgressBar(label, self.stderr)
                try:
                    created = module.scale(plan, size, progress=bar)
                except ValueError as error:
                    raise CommandError(f"{label}: {error}") from error
                finally:
                    bar.close()
                summary = ", ".join(f"{count} {what}" for what, count in created.items())
                seconds = time.monotonic() - started
                self.stdout.write(
                    f"{label}: scaled to {size:,}, created {summary} in {seconds:.0f}s"
                )

    def _seed_demo(self, plan: SeedPlan, *, reset: bool) -> None:
        modules = seeding_modules()
        if reset:
            for label, module in reversed(modules):
                if hasattr(module, "reset"):
                    module.reset()
                    self.stdout.write(f"{label}: demo data removed")
        for label, module in modules:
            if not hasattr(module, "seed"):
                continue  # an app that only grants permissions to the staff roles
            created = module.seed(plan)
            summary = ", ".join(f"{count} {what}" for what, count in created.items())
            self.stdout.write(f"{label}: created {summary}")


class ProgressBar:
    """``label [#####-----] done/total, rows/s`` on one line of stderr, redrawn in place."""

    WIDTH = 30

    def __init__(self, label: str, stream: OutputWrapper) -> None:
        self.label = label
        self.stream = stream
        self.started = time.monotonic()
        self.drawn = False

    def __call__(self, done: int, total: int, note: str = "") -> None:
        filled = self.WIDTH * done // total if total else self.WIDTH
        rate = done / max(time.monotonic() - self.started, 1e-9)
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'-' * (self.WIDTH - filled)}]"
            f" {done:,}/{total:,} {rate:,.0f}/s {note}",
            ending="",
        )
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("")
            self.stream.flush()
