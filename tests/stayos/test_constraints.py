"""The rules live in PostgreSQL; the admin turns them into clear form errors."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from stayos.models import RatePlan, Room, RoomType
from tests.constraints import refused_by
from tests.factories import PropertyFactory, RatePlanFactory, RoomFactory, RoomTypeFactory

pytestmark = pytest.mark.django_db


def _raw(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_it_refuses_a_duplicate_room_number_in_the_admin(admin_client: Client):
    existing = RoomFactory(number="101")
    response = admin_client.post(
        reverse("admin:stayos_room_add"),
        {
            "property": existing.property_id,
            "room_type": existing.room_type_id,
            "number": "101",
            "floor": 1,
            "housekeeping_status": "clean",
        },
    )
    assert response.status_code == 200
    assert "This property already has a room with this number." in response.content.decode()
    assert Room.objects.filter(number="101").count() == 1


def test_the_same_room_number_is_fine_in_another_property():
    RoomFactory(number="101")
    RoomFactory(number="101")
    assert Room.objects.filter(number="101").count() == 2


def test_raw_sql_cannot_duplicate_a_room_number():
    room = RoomFactory(number="101")
    with refused_by("stayos_room_number_unique_per_property"):
        _raw(
            "INSERT INTO stayos_room (property_id, room_type_id, number, floor,"
            " housekeeping_status, accessibility, notes)"
            " VALUES (%s, %s, '101', 1, 'clean', '{}', '')",
            [room.property_id, room.room_type_id],
        )


def test_raw_sql_cannot_point_a_room_at_another_propertys_room_type():
    room = RoomFactory()
    foreign_type = RoomTypeFactory()
    with refused_by("stayos_room_room_type_same_property"):
        _raw("UPDATE stayos_room SET room_type_id = %s WHERE id = %s", [foreign_type.pk, room.pk])


def test_the_admin_explains_a_room_type_of_another_property(admin_client: Client):
    foreign_type = RoomTypeFactory()
    response = admin_client.post(
        reverse("admin:stayos_room_add"),
        {
            "property": PropertyFactory().pk,
            "room_type": foreign_type.pk,
            "number": "7",
            "floor": 0,
            "housekeeping_status": "clean",
        },
    )
    assert "Choose a room type of this room&#x27;s property." in response.content.decode()
    assert not Room.all_objects.exists()


def _room_type_form(prop, **changes) -> dict:
    data = {
        "property": prop.pk,
        "code": "BAD",
        "name": "Broom cupboard",
        "capacity": 2,
        "base_occupancy": 1,
        "rooms-TOTAL_FORMS": 0,
        "rooms-INITIAL_FORMS": 0,
    }
    data.update(changes)
    return data


def test_it_refuses_a_room_type_with_no_capacity_in_the_admin(admin_client: Client):
    response = admin_client.post(
        reverse("admin:stayos_roomtype_add"), _room_type_form(PropertyFactory(), capacity=0)
    )
    assert response.status_code == 200
    assert "Capacity must be at least 1." in response.content.decode()
    assert not RoomType.all_objects.exists()


def test_it_refuses_a_base_occupancy_above_capacity_in_the_admin(admin_client: Client):
    response = admin_client.post(
        reverse("admin:stayos_roomtype_add"),
        _room_type_form(PropertyFactory(), capacity=2, base_occupancy=3),
    )
    page = response.content.decode()
    assert "Base occupancy must be between 1 and the capacity." in page
    assert "Capacity must be at least 1." not in page
    assert not RoomType.all_objects.exists()


def test_raw_sql_cannot_store_a_base_occupancy_above_capacity():
    room_type = RoomTypeFactory(capacity=2, base_occupancy=2)
    with refused_by("stayos_roomtype_base_occupancy_within_capacity"):
        _raw("UPDATE stayos_roomtype SET base_occupancy = 3 WHERE id = %s", [room_type.pk])


def _rate_plan_form(prop, **changes) -> dict:
    data = {
        "property": prop.pk,
        "code": "BAR",
        "name": "Best available",
        "room_types": [],
        "base_rate": "120.00",
        "weekend_days": ["4", "5"],
        "weekend_multiplier": "1.000",
        "valid_from": "2026-12-31",
        "valid_to": "2026-01-01",
        "min_stay": 1,
        "refundable": "on",
        "seasons-TOTAL_FORMS": 0,
        "seasons-INITIAL_FORMS": 0,
    }
    data.update(changes)
    return data


def test_it_refuses_a_rate_plan_ending_before_it_starts(admin_client: Client):
    prop = PropertyFactory()
    room_type = RoomTypeFactory(property=prop)
    response = admin_client.post(
        reverse("admin:stayos_rateplan_add"), _rate_plan_form(prop, room_types=[room_type.pk])
    )
    assert "“Valid to” cannot be before “valid from”." in response.content.decode()
    assert not RatePlan.objects.exists()


def test_it_refuses_a_negative_rate_in_the_admin(admin_client: Client):
    prop = PropertyFactory()
    room_type = RoomTypeFactory(property=prop)
    response = admin_client.post(
        reverse("admin:stayos_rateplan_add"),
        _rate_plan_form(prop, room_types=[room_type.pk], base_rate="-5", valid_to="2027-01-01"),
    )
    assert "The base rate must be greater than zero." in response.content.decode()
    assert not RatePlan.objects.exists()


def test_raw_sql_cannot_store_a_zero_rate_or_unknown_weekday():
    plan = RatePlanFactory()
    with refused_by("stayos_rateplan_base_rate_positive"):
        _raw("UPDATE stayos_rateplan SET base_rate = 0 WHERE id = %s", [plan.pk])
    with refused_by("stayos_rateplan_weekdays_valid"):
        _raw("UPDATE stayos_rateplan SET closed_to_arrival = '{7}' WHERE id = %s", [plan.pk])


def test_seasons_of_one_plan_cannot_overlap():
    plan = RatePlanFactory()
    sql = (
        "INSERT INTO stayos_rateplanseason (property_id, rate_plan_id, name, start_date,"
        " end_date, multiplier) VALUES (%s, %s, %s, %s, %s, 1.2)"
    )
    _raw(sql, [plan.property_id, plan.pk, "Summer", "2026-06-15", "2026-09-15"])
    with refused_by("stayos_rateplanseason_no_overlap"):
        _raw(sql, [plan.property_id, plan.pk, "August", "2026-08-01", "2026-08-31"])
