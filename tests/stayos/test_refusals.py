"""Every database refusal reaches staff as a form error on the right field, never a 500."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from audit.models import AuditLog
from guests.models import Guest
from stayos.models import RatePlan, RatePlanSeason, Room
from stayos.refusals import refusal_for
from tests.admin_forms import as_posted, room_add_data
from tests.constraints import refused_by
from tests.factories import (
    AmenityFactory,
    GuestFactory,
    RatePlanFactory,
    RoomFactory,
    RoomTypeFactory,
)

pytestmark = pytest.mark.django_db


def _plan_form(plan: RatePlan, version: int = 1, seasons: list[dict] = (), **changes) -> dict:
    data = {
        "property": plan.property_id,
        "code": plan.code,
        "name": plan.name,
        "room_types": [RoomTypeFactory(property=plan.property).pk],
        "base_rate": plan.base_rate,
        "weekend_days": [4, 5],
        "weekend_multiplier": "1",
        "valid_from": plan.valid_from,
        "valid_to": plan.valid_to or "",
        "min_stay": 1,
        "refundable": "on",
        "version": version,
        "seasons-TOTAL_FORMS": len(seasons),
        "seasons-INITIAL_FORMS": 0,
        "seasons-MIN_NUM_FORMS": 0,
        "seasons-MAX_NUM_FORMS": 1000,
    }
    for index, season in enumerate(seasons):
        data.update({f"seasons-{index}-{key}": value for key, value in season.items()})
    data.update(changes)
    return data


def test_overlapping_seasons_in_one_save_show_on_the_season(admin_client: Client):
    plan = RatePlanFactory()
    url = reverse("admin:stayos_rateplan_change", args=[plan.pk])
    seasons = [
        {"name": "Summer", "start_date": "2026-06-01", "end_date": "2026-08-31", "multiplier": 1},
        {
            "name": "Festival",
            "start_date": "2026-08-15",
            "end_date": "2026-09-15",
            "multiplier": 2,
        },
    ]
    data = _plan_form(plan, seasons=seasons, name="Renamed")
    audit_rows = AuditLog.objects.count()

    response = admin_client.post(url, data)

    assert response.status_code == 200
    (formset,) = [admin.formset for admin in response.context["inline_admin_formsets"]]
    assert formset.forms[1].errors["start_date"] == [
        "This season overlaps another season of the plan."
    ]
    assert not RatePlanSeason.objects.filter(rate_plan=plan).exists()
    assert RatePlan.objects.get(pk=plan.pk).name == plan.name  # the plan's edit rolled back
    assert AuditLog.objects.count() == audit_rows


def test_a_plans_validity_cannot_shrink_past_its_seasons(admin_client: Client):
    plan = RatePlanFactory()
    RatePlanSeason.objects.create(
        property=plan.property,
        rate_plan=plan,
        name="Summer",
        start_date=datetime.date(2026, 6, 1),
        end_date=datetime.date(2026, 8, 31),
        multiplier=2,
    )
    url = reverse("admin:stayos_rateplan_change", args=[plan.pk])
    page = admin_client.post(url, _plan_form(plan, valid_to="2026-07-31", **_season_initial(plan)))
    assert page.status_code == 200
    assert page.context["adminform"].form.errors["valid_to"] == [
        "A season of this plan ends after this date: move or delete it first."
    ]
    page = admin_client.post(
        url, _plan_form(plan, valid_from="2026-07-01", **_season_initial(plan))
    )
    assert page.context["adminform"].form.errors["valid_from"] == [
        "A season of this plan starts before this date: move or delete it first."
    ]
    assert RatePlan.objects.get(pk=plan.pk).valid_to == plan.valid_to


def _season_initial(plan: RatePlan) -> dict:
    data = {"seasons-TOTAL_FORMS": 0, "seasons-INITIAL_FORMS": 0}
    for index, season in enumerate(plan.seasons.all()):
        data["seasons-TOTAL_FORMS"] = data["seasons-INITIAL_FORMS"] = index + 1
        data.update(
            {
                f"seasons-{index}-id": season.pk,
                f"seasons-{index}-rate_plan": plan.pk,
                f"seasons-{index}-version": season.version,
                f"seasons-{index}-name": season.name,
                f"seasons-{index}-start_date": season.start_date,
                f"seasons-{index}-end_date": season.end_date,
                f"seasons-{index}-multiplier": season.multiplier,
            }
        )
    return data


def test_a_season_outside_the_validity_shows_on_the_season(admin_client: Client):
    plan = RatePlanFactory(valid_to=datetime.date(2026, 12, 31))
    url = reverse("admin:stayos_rateplan_change", args=[plan.pk])
    season = {"name": "New Year", "start_date": "2026-12-28", "end_date": "2027-01-02"}
    response = admin_client.post(url, _plan_form(plan, seasons=[{**season, "multiplier": 2}]))
    assert response.status_code == 200
    (formset,) = [admin.formset for admin in response.context["inline_admin_formsets"]]
    assert formset.forms[0].errors["start_date"] == [
        "The season must lie within the rate plan's validity."
    ]
    assert not RatePlanSeason.all_objects.filter(rate_plan=plan).exists()


@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        (
            "UPDATE stayos_rateplan SET valid_to = '2026-07-31' WHERE id = %(plan)s",
            "stayos_rateplan_valid_to_covers_seasons",
        ),
        (
            "UPDATE stayos_rateplan SET valid_from = '2026-06-02' WHERE id = %(plan)s",
            "stayos_rateplan_valid_from_covers_seasons",
        ),
        (
            "UPDATE stayos_rateplanseason SET end_date = '2028-01-05' WHERE id = %(season)s",
            "stayos_rateplanseason_within_validity",
        ),
    ],
)
def test_raw_sql_cannot_put_a_season_outside_its_plan(sql: str, constraint: str):
    plan = RatePlanFactory()
    season = RatePlanSeason.objects.create(
        property=plan.property,
        rate_plan=plan,
        name="Summer",
        start_date=datetime.date(2026, 6, 1),
        end_date=datetime.date(2026, 8, 31),
        multiplier=2,
    )
    with (
        pytest.raises(IntegrityError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, {"plan": plan.pk, "season": season.pk})
    assert refused.value.__cause__.diag.constraint_name == constraint
    assert refusal_for(refused.value).field in {"valid_from", "valid_to", "start_date"}


def test_a_room_type_of_another_property_shows_on_the_field(admin_client: Client):
    room = RoomFactory()
    foreign = RoomTypeFactory()
    response = admin_client.post(
        reverse("admin:stayos_room_add"), room_add_data(room, room_type=foreign.pk)
    )
    assert response.status_code == 200
    assert "room_type" in response.context["adminform"].form.errors


def test_json_with_a_nul_character_is_a_form_error(admin_client: Client):
    guest = GuestFactory()
    page = admin_client.get(reverse("admin:guests_guest_change", args=[guest.pk]))
    data = {**as_posted(page.context["adminform"].form), "version": guest.version}
    data["preferences"] = '{"pillow": "\\u0000"}'
    response = admin_client.post(reverse("admin:guests_guest_change", args=[guest.pk]), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["preferences"] == [
        "JSON cannot hold a NUL character (\\u0000)."
    ]
    assert Guest.objects.get(pk=guest.pk).version == 1


def test_the_audit_browser_ignores_a_staff_filter_it_does_not_offer(admin_client: Client):
    url = reverse("admin:audit_auditentry_changelist")
    assert admin_client.get(url, {"user": "abc"}).status_code == 200
    assert admin_client.get(url, {"table": "no_such_table"}).status_code == 200


def test_raw_sql_cannot_link_a_room_to_another_propertys_amenity():
    room = RoomFactory()
    foreign = AmenityFactory()
    with (
        refused_by("stayos_room_amenities_same_property"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO stayos_room_amenities (room_id, amenity_id) VALUES (%s, %s)",
            [room.pk, foreign.pk],
        )


def test_another_propertys_amenity_on_a_new_room_shows_on_the_field(admin_client: Client):
    room = RoomFactory()
    foreign = AmenityFactory()
    response = admin_client.post(
        reverse("admin:stayos_room_add"), room_add_data(room, amenities=[foreign.pk])
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["amenities"] == [
        "Choose amenities of the same property."
    ]
    assert not Room.objects.filter(number="808").exists()
