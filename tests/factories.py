"""Factories for every test: real rows in the real PostgreSQL."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from guests.models import Company, Guest, GuestGroup
from stayos.models import Amenity, Property, RatePlan, Room, RoomType


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


class AmenityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Amenity

    property = factory.SubFactory(PropertyFactory)
    code = factory.Sequence(lambda n: f"amenity-{n}")
    name = factory.Sequence(lambda n: f"Amenity {n}")


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


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    property = factory.SubFactory(PropertyFactory)
    name = factory.Sequence(lambda n: f"Company {n}")
    vat_number = factory.Sequence(lambda n: f"PT{500000000 + n}")
    country = "PT"
    credit_limit = Decimal("5000.00")


class GuestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Guest

    property = factory.SubFactory(PropertyFactory)
    given_name = "Ana"
    family_name = factory.Sequence(lambda n: f"Guest{n}")
    email = factory.Sequence(lambda n: f"guest{n}@example.com")
    phone = "+351912345678"
    nationality = "PT"
    language = "pt"
    date_of_birth = datetime.date(1985, 4, 12)
    document_type = Guest.DocumentType.PASSPORT
    document_number = factory.Sequence(lambda n: f"P{7000000 + n}")
    address = "Rua Augusta 100\n1100-053 Lisboa"
    city = "Lisboa"
    country = "PT"


class GuestGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GuestGroup

    contact = factory.SubFactory(GuestFactory)
    property = factory.SelfAttribute("contact.property")
    name = factory.Sequence(lambda n: f"Group {n}")
    arrival_date = datetime.date(2026, 12, 1)
    departure_date = datetime.date(2026, 12, 4)
    expected_size = 12
