"""Names sort as people expect: Bähr beside Bahr, Åberg among the A's, Ødegaard among the O's,
never after Z (the cluster's C.UTF-8 locale would put them there)."""

from __future__ import annotations

import random

import pytest
from django.test import Client
from django.urls import reverse

from guests.models import Company, Guest
from tests.factories import CompanyFactory, GuestFactory, PropertyFactory

pytestmark = pytest.mark.django_db

IN_ORDER = [
    "Abbott",
    "Åberg",
    "Bahr",
    "Bähr",
    "Baker",
    "Çelik",
    "Cohen",
    "Łukasz",
    "Lutz",
    "Odegaard",
    "Ødegaard",
    "Olsen",
    "Zimmermann",
]


@pytest.fixture
def guests():
    prop = PropertyFactory()
    shuffled = IN_ORDER[:]
    random.Random(8).shuffle(shuffled)
    for family_name in shuffled:
        GuestFactory(property=prop, given_name="Ana", family_name=family_name)


def test_guest_names_sort_as_people_expect(guests):
    assert list(Guest.objects.values_list("family_name", flat=True)) == IN_ORDER


def test_the_guest_list_in_the_admin_sorts_them_so(admin_client: Client, guests):
    response = admin_client.get(reverse("admin:guests_guest_changelist"))
    assert [guest.family_name for guest in response.context["cl"].result_list] == IN_ORDER


def test_company_names_sort_as_people_expect():
    prop = PropertyFactory()
    for name in reversed(IN_ORDER):
        CompanyFactory(property=prop, name=f"{name} GmbH")
    assert [
        name.removesuffix(" GmbH") for name in Company.objects.values_list("name", flat=True)
    ] == IN_ORDER


def test_equal_names_stay_distinct_for_the_unique_constraints():
    # ICU root collation is deterministic: "Bahr" and "Bähr" are two names, not one.
    prop = PropertyFactory()
    CompanyFactory(property=prop, name="Bahr")
    CompanyFactory(property=prop, name="Bähr")
    assert Company.objects.filter(name="Bahr").count() == 1
