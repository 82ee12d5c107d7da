"""manage.py seed: the demo group, the same for the same seed, and a second run changes nothing."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db.models import Sum

from stayos.models import Property, RatePlan, Room, RoomType
from stayos.roles import ROLES

pytestmark = pytest.mark.django_db


def _snapshot() -> dict:
    return {
        "properties": Property.objects.count(),
        "room_types": RoomType.objects.count(),
        "rooms": Room.objects.count(),
        "rate_plans": RatePlan.objects.count(),
        "versions": sum(
            model.all_objects.aggregate(total=Sum("version"))["total"] or 0
            for model in (Property, RoomType, Room, RatePlan)
        ),
        "roles": sorted(
            Group.objects.values_list(
                "name", "permissions__content_type__app_label", "permissions__codename"
            )
        ),
        "statuses": list(
            Room.objects.order_by("property__code", "number").values_list(
                "property__code", "number", "housekeeping_status"
            )
        ),
    }


def test_it_seeds_a_demo_hotel_group():
    call_command("seed", "--today", "2026-11-22", stdout=io.StringIO())
    assert Property.objects.count() == 2
    assert RoomType.objects.count() >= 6
    assert Room.objects.count() >= 120
    assert RatePlan.objects.count() > 0
    assert Room.objects.exclude(accessibility=[]).exists()
    assert set(Group.objects.values_list("name", flat=True)) == set(ROLES)


def test_a_second_run_changes_nothing():
    call_command("seed", "--today", "2026-11-22", stdout=io.StringIO())
    first = _snapshot()
    call_command("seed", "--today", "2026-11-22", stdout=io.StringIO())
    assert _snapshot() == first


def test_the_same_random_seed_gives_the_same_data_and_reset_rebuilds():
    quiet = io.StringIO()
    call_command("seed", "--random-seed", "7", stdout=quiet)
    seven = _snapshot()["statuses"]
    call_command("seed", "--reset", "--random-seed", "8", stdout=quiet)
    eight = _snapshot()["statuses"]
    call_command("seed", "--reset", "--random-seed", "7", stdout=quiet)
    assert _snapshot()["statuses"] == seven
    assert eight != seven


def test_it_refuses_a_negative_seed():
    with pytest.raises(CommandError, match="--random-seed"):
        call_command("seed", "--random-seed", "-1")
