"""manage.py demo_login: make sure the demo superuser exists with the given password."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.context import context


class Command(BaseCommand):
    help = "Create or update the demo superuser; the password comes from STAYOS_DEMO_PASSWORD."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("STAYOS_DEMO_PASSWORD", "")
        if len(password) < 12:
            raise CommandError("Set STAYOS_DEMO_PASSWORD to at least 12 characters.")
        user_model = get_user_model()
        with context(source="command:demo_login"):
            user, created = user_model.objects.get_or_create(
                username=options["username"],
                defaults={"first_name": "Demo", "last_name": "Manager", "is_staff": True},
            )
            user.is_staff = user.is_superuser = user.is_active = True
            user.set_password(password)
            user.save()
        verb = "created" if created else "updated"
        self.stdout.write(f"Demo login {verb}: {user.get_username()}")
