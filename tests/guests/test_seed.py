"""Demo guests: at least 500, international, the same for the same seed, never twice."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from guests.models import Company, Guest, GuestGroup
from guests.selectors import guest_duplicates

pytestmark = pytest.mark.django_db


def _seed(*args: str) -> None:
    call_command("seed", "--today", "2026-11-22", *args, stdout=io.StringIO())


def _names() -> list[tuple]:
    return list(
        Guest.objects.order_by("property__code", "family_name", "given_name", "email").values_list(
            "property__code", "family_name", "given_name", "email"
        )
    )


def test_it_seeds_international_guests_companies_and_groups():
    _seed()
    assert Guest.objects.count() >= 500
    assert set(Guest.objects.values_list("property__code", flat=True)) == {"LIS1", "EDI1"}
    assert Guest.objects.values("nationality").distinct().count() >= 8
    assert Guest.objects.filter(family_name__regex=r"[^\x00-\x7F]").exists()  # accents
    assert Company.objects.count() >= 20 and GuestGroup.objects.count() >= 10
    assert Guest.objects.filter(kind="corporate", company__isnull=False).exists()
    assert len(guest_duplicates()) >= 10


def test_a_second_run_creates_nothing_and_reset_rebuilds_the_same():
    _seed()
    first = _names()
    _seed()
    assert _names() == first
    _seed("--reset")
    assert _names() == first
