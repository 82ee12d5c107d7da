"""Likely duplicates: the same e-mail, or a similar name and the same date of birth."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import call_command

from guests.selectors import guest_duplicates
from tests.factories import GuestFactory, PropertyFactory

pytestmark = pytest.mark.django_db


def test_it_proposes_profiles_sharing_an_email():
    prop = PropertyFactory()
    first = GuestFactory(property=prop, family_name="Costa", email="rita@example.com")
    second = GuestFactory(
        property=prop,
        family_name="Costa Silva",
        email="Rita@Example.com",
        date_of_birth=datetime.date(1990, 1, 1),
    )
    GuestFactory(property=PropertyFactory(), email="rita@example.com")  # another hotel
    [pair] = guest_duplicates(property=prop)
    assert {pair.first, pair.second} == {first, second}
    assert pair.reasons == ("same e-mail",)


def test_it_proposes_a_similar_name_with_the_same_date_of_birth():
    prop = PropertyFactory()
    born = datetime.date(1979, 3, 2)
    first = GuestFactory(
        property=prop, given_name="Zoë", family_name="Lefèvre", date_of_birth=born
    )
    second = GuestFactory(
        property=prop, given_name="Zoe", family_name="Lefevre", date_of_birth=born
    )
    GuestFactory(property=prop, given_name="Zoe", family_name="Lefevre",
                 date_of_birth=datetime.date(1979, 3, 3))  # fmt: skip
    GuestFactory(property=prop, given_name="Paul", family_name="Martin", date_of_birth=born)
    [pair] = guest_duplicates(guest=first)
    assert {pair.first, pair.second} == {first, second}
    assert pair.reasons == ("similar name, same date of birth",)


def test_the_command_lists_them():
    prop = PropertyFactory(code="DUP1")
    GuestFactory(property=prop, family_name="Ng", email="ng@example.com")
    GuestFactory(property=prop, family_name="Ng", email="ng@example.com")
    out = io.StringIO()
    call_command("guests", "duplicates", "--property", "DUP1", stdout=out)
    assert "1 likely duplicate pair(s)." in out.getvalue()
