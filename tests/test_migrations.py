"""No model change without its migration (partitioned tables included)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("command", ["makemigrations", "pgmakemigrations"])
def test_every_model_change_has_its_migration(command: str):
    out = io.StringIO()
    try:
        call_command(command, "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit:
        pytest.fail(f"{command} would create migrations:\n{out.getvalue()}")
