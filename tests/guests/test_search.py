"""Finding a guest in a keystroke: any part of a name, accents, typos, e-mail, phone, company."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
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


@pytest.fixture
def namesakes():
    prop = PropertyFactory()
    names = [
        ("Renata", "Cardoso"),
        ("Julian", "Chambers"),
        ("Borja", "Aguilera"),
        ("Tiago", "Cardona"),
        ("Ian", "Chalmers"),
        ("Ana", "Aguirre"),
    ]
    return {
        family: GuestFactory(property=prop, given_name=given, family_name=family)
        for given, family in names
    }


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("Cadroso", "Cardoso"),  # two letters swapped
        ("Chmabers", "Chambers"),
        ("Agiulera", "Aguilera"),
        ("Cardozo", "Cardoso"),  # one wrong letter
        ("Cardsoo", "Cardoso"),
        ("Cardosso", "Cardoso"),  # one letter too many
        ("renata cadroso", "Cardoso"),
    ],
)
def test_it_finds_a_name_one_typo_away(namesakes, typed: str, meant: str):
    found = [guest.family_name for guest in guest_search(query=typed)]
    assert found[0] == meant
    # Its neighbours in the alphabet are further than one typo: not found.
    assert not {"Cardona", "Chalmers", "Aguirre"} & set(found)


def test_it_finds_a_renamed_guest_by_the_new_name_only(namesakes):
    guest = namesakes["Cardoso"]
    guest.family_name = "Figueiredo"
    guest.save()
    assert "Figueiredo" in _found("Figueirdeo")
    assert "Figueiredo" not in _found("Cadroso")
    # Raw SQL too: PostgreSQL computes the typo keys from the trigger-kept search name.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE guests_guest SET family_name = 'Aguilar' WHERE id = %s", [guest.pk])
    assert "Aguilar" in _found("Agiular")
    assert "Figueiredo" not in _found("Figueirdeo")


def test_it_lists_the_closest_names_first():
    prop = PropertyFactory()
    for given, family in [
        ("Ana", "Caroso"),  # one letter missing
        ("Ana", "Cardoso"),  # two letters swapped: closer to "Cadroso"
        ("Ana", "Cadroso"),  # exactly what was typed
        ("Ana", "Cadrosa"),  # one letter wrong
    ]:
        GuestFactory(property=prop, given_name=given, family_name=family)
    found = [guest.family_name for guest in guest_search(query="cadroso")]
    assert found[:2] == ["Cadroso", "Cardoso"]
    assert set(found[2:]) == {"Caroso", "Cadrosa"}

    found = [guest.family_name for guest in guest_search(query="Cardoso")]
    assert found[0] == "Cardoso"


def test_the_admin_list_shows_the_closest_names_first(admin_client: Client):
    prop = PropertyFactory()
    for family, vip_level in [("Caroso", 1), ("Cardoso", 2), ("Cadrosa", 3), ("Cardosa", 4)]:
        GuestFactory(property=prop, given_name="Ana", family_name=family, vip_level=vip_level)
    url = reverse("admin:guests_guest_changelist")
    response = admin_client.get(url, {"q": "Cadroso"})
    found = [guest.family_name for guest in response.context["cl"].result_list]
    assert found[0] == "Cardoso"
    assert "Cardosa" not in found  # two typos away
    # Sorting by a column (VIP level) still wins over closeness.
    response = admin_client.get(url, {"q": "Cadroso", "o": "3"})
    found = [guest.family_name for guest in response.context["cl"].result_list]
    assert found == ["Caroso", "Cardoso", "Cadrosa"]
