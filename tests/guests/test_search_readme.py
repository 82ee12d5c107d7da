"""The README's search examples work on the seeded demo data (``manage.py seed``)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from guests.models import Guest
from guests.selectors import guest_search

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"

# What the README types in the search box, and a family name it must bring up first.
EXAMPLES = {
    "Söd": {"Söderlund", "Söding"},
    "lof": {"Löffler"},
    "Cadroso": {"Cardoso"},
    "Chmabers": {"Chambers"},
    "Cardozo": {"Cardoso"},
    "Agiulera": {"Aguilera"},
}


def _readme_examples() -> set[str]:
    paragraph = README.read_text().split("admin search box", 1)[1].split("ID document", 1)[0]
    return set(re.findall(r'"([^"]+)"', paragraph))


def test_the_readme_shows_these_examples():
    # Every example the README gives is one this file runs.
    assert _readme_examples() == set(EXAMPLES) | {"bergstrom"}


def test_the_readme_examples_find_the_seeded_guests():
    # One seed for every example: seeding takes seconds.
    call_command("seed", "--today", "2026-11-22", stdout=io.StringIO())
    for typed, meant in EXAMPLES.items():
        found = [guest.family_name for guest in guest_search(query=typed)[:5]]
        assert found and found[0] in meant, (typed, found)

    staff = guest_search(query="bergstrom")
    assert staff.exists()
    assert {guest.company.name for guest in staff} == {"Bergström & Söderholm HB"}

    guest = Guest.objects.exclude(phone="").exclude(email="").order_by("pk").first()
    assert guest in guest_search(query=guest.email.split("@")[0])
    assert guest in guest_search(query=guest.phone[-7:])
