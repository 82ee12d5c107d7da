"""Factories for every test: real rows in the real PostgreSQL."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from stayos.models import Property, RatePlan, Room, RoomType


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    is_staff = True
    is_superuser = True
    password = factory.django.Password("correct horse battery")


class PropertyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Property

    code = factory.Sequence(lambda n: f"P{n:03d}")
    name = factory.Sequence(lambda n: f"Hotel {n}")
    time_zone = "Europe/Lisbon"
    currency = "EUR"
    business_date = datetime.date(2026, 11, 22)


class RoomTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoomType

    property = factory.SubFactory(PropertyFactory)
    code = factory.Sequence(lambda n: f"T{n}")
    name = "Standard Double"
    capacity = 2
    base_occupancy = 2


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    room_type = factory.SubFactory(RoomTypeFactory)
    property = factory.SelfAttribute("room_type.property")
    number = factory.Sequence(lambda n: str(100 + n))
    floor = 1


class RatePlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RatePlan

    property = factory.SubFactory(PropertyFactory)
    code = factory.Sequence(lambda n: f"BAR{n}")
    name = "Best available"
    base_rate = Decimal("120.00")
    valid_from = datetime.date(2026, 1, 1)
    valid_to = datetime.date(2027, 12, 31)
