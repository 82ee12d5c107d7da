"""manage.py seed: load the demo hotel group; idempotent, reproducible, --reset rebuilds."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from audit.context import context
from stayos.seeding import SeedPlan, seeding_modules, staff_roles_setup


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

    def handle(self, *args: Any, **options: Any) -> None:
        if options["random_seed"] < 0:
            raise CommandError("--random-seed must be zero or positive.")
        if options["roles_only"] and options["reset"]:
            raise CommandError("--roles-only leaves the demo data alone; drop --reset.")
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
        self.stdout.write(self.style.SUCCESS("Seed complete."))

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
