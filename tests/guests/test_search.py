"""Finding a guest in a keystroke: any part of a name, accents, typos, e-mail, phone, company."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from guests.selectors import guest_search
from tests.factories import CompanyFactory, GuestFactory, PropertyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def guests():
    prop = PropertyFactory()
    company = CompanyFactory(property=prop, name="Bäckerei Lindqvist GmbH")
    return {
        "schmidt": GuestFactory(property=prop, given_name="Klaus", family_name="Schmidt"),
        "muller": GuestFactory(property=prop, given_name="Jürgen", family_name="Müller"),
        "garcia": GuestFactory(
            property=prop,
            given_name="María José",
            family_name="García-López",
            email="mj.garcia@correo.example.es",
            phone="+34 612 345 678",
        ),
        "corporate": GuestFactory(
            property=prop, given_name="Eva", family_name="Nilsson", company=company
        ),
        "other": GuestFactory(property=prop, given_name="John", family_name="Smith"),
    }


def _found(query: str) -> set[str]:
    return {guest.family_name for guest in guest_search(query=query)}


def test_it_finds_a_surname_from_three_letters_whatever_the_accents(guests):
    assert "Müller" in _found("Mül")
    assert "Müller" in _found("mul")
    assert "Müller" in _found("MÜL")
    # The German transliteration is a typo away: word similarity finds it.
    assert "Müller" in _found("Mueller")


def test_it_finds_a_misspelled_surname(guests):
    assert _found("Schmdt") == {"Schmidt"}
    assert _found("Shmidt") == {"Schmidt"}
    assert _found("klaus schmitt") == {"Schmidt"}


def test_it_is_accent_and_case_insensitive_both_ways(guests):
    assert _found("garcia lopez") == {"García-López"}
    assert _found("GARCÍA") == {"García-López"}
    assert _found("muller") == {"Müller"}


def test_it_finds_any_part_of_a_name(guests):
    assert _found("ller") == {"Müller"}
    assert _found("maria jose") == {"García-López"}


def test_it_finds_by_email_phone_and_company(guests):
    assert _found("mj.garcia@correo") == {"García-López"}
    assert _found("612 345") == {"García-López"}
    assert _found("+34612345678") == {"García-López"}
    assert _found("lindqvist") == {"Nilsson"}
    assert _found("backerei") == {"Nilsson"}


def test_it_leaves_out_what_does_not_match(guests):
    assert "Smith" not in _found("Schmdt")
    assert _found("zzzq") == set()


def test_the_admin_search_box_uses_it(admin_client: Client, guests):
    response = admin_client.get(reverse("admin:guests_guest_changelist"), {"q": "Schmdt"})
    assert [guest.family_name for guest in response.context["cl"].result_list] == ["Schmidt"]
    response = admin_client.get(reverse("admin:guests_guest_changelist"), {"q": "Mül"})
    assert [guest.family_name for guest in response.context["cl"].result_list] == ["Müller"]
