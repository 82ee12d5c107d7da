"""Guest admin: clear form errors for bad input (nothing saved), cheap lists, masked history."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from guests import pii
from guests.models import Company, Guest, GuestGroup
from tests.factories import (
    CompanyFactory,
    GuestFactory,
    GuestGroupFactory,
    PropertyFactory,
    RatePlanFactory,
)

pytestmark = pytest.mark.django_db

ADD = "admin:guests_guest_add"


def _form(prop, **overrides) -> dict:
    data = {
        "property": prop.pk,
        "kind": "individual",
        "vip_level": 0,
        "title": "ms",
        "given_name": "Sofia",
        "family_name": "Lindqvist",
        "email": "Sofia.Lindqvist@Example.com",
        "phone": "+46 70 123 45 67",
        "language": "sv",
        "nationality": "SE",
        "date_of_birth": "1988-02-29",
        "document_type": "passport",
        "document_number": "SE 1234567",
        "address": "Storgatan 1\n111 22 Stockholm",
        "city": "Stockholm",
        "country": "SE",
        "preferences": "{}",
        "notes": "",
        # the inline of groups the guest is the contact for
        "contact_for_groups-TOTAL_FORMS": "0",
        "contact_for_groups-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_it_saves_a_valid_guest_normalized_and_encrypted(admin_client: Client):
    prop = PropertyFactory()
    response = admin_client.post(reverse(ADD), _form(prop))
    assert response.status_code == 302, response.context["adminform"].form.errors
    guest = Guest.objects.get()
    assert guest.email == "sofia.lindqvist@example.com"
    assert guest.phone == "+46701234567"
    assert guest.date_of_birth == datetime.date(1988, 2, 29)
    assert guest.document_number == "SE 1234567"
    assert guest.created_by.username == "maria"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("email", "sofia@", "Enter a valid email address."),
        ("phone", "12345", "Enter a valid phone number in international format"),
        ("phone", "+351 12", "Enter a valid phone number in international format"),
        ("date_of_birth", "2000-02-30", "Enter a valid date."),
        ("date_of_birth", "future", "A date of birth cannot be in the future."),
        ("date_of_birth", "1850-01-01", "before 1900 is not plausible"),
        ("nationality", "XX", "Select a valid choice. XX is not one of the available choices."),
        ("country", "ZZ", "Select a valid choice. ZZ is not one of the available choices."),
        ("vip_level", "9", "Ensure this value is less than or equal to 5."),
        ("preferences", "[1, 2]", "Preferences must be a JSON object"),
    ],
)
def test_it_explains_bad_input_and_saves_nothing(
    admin_client: Client, field: str, value: str, message: str
):
    if value == "future":
        # Two days ahead: still the future if the request lands just after midnight.
        value = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    response = admin_client.post(reverse(ADD), _form(PropertyFactory(), **{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Guest.all_objects.exists()


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"kind": "vip"}, "A VIP guest needs a VIP level from 1 to 5."),
        ({"kind": "corporate"}, "A corporate guest needs a company."),
        ({"document_type": ""}, "Say which kind of ID document the number belongs to."),
    ],
)
def test_it_explains_broken_rules(admin_client: Client, overrides: dict, message: str):
    response = admin_client.post(reverse(ADD), _form(PropertyFactory(), **overrides))
    assert message in response.content.decode()
    assert not Guest.all_objects.exists()


def test_the_guest_list_does_not_query_per_row(admin_client: Client):
    prop = PropertyFactory()
    company = CompanyFactory(property=prop)

    def grow() -> None:
        GuestFactory.create_batch(3, property=prop, company=company, kind="corporate")
        GuestFactory(property=PropertyFactory(), kind="vip", vip_level=2)

    url = reverse("admin:guests_guest_changelist")
    grow()
    with CaptureQueriesContext(connection) as small:
        assert admin_client.get(url).status_code == 200
    for _ in range(6):
        grow()
    with CaptureQueriesContext(connection) as large:
        assert admin_client.get(url).status_code == 200
    assert len(large) == len(small)


@pytest.mark.parametrize(
    "url_name", ["admin:guests_company_changelist", "admin:guests_guestgroup_changelist"]
)
def test_company_and_group_lists_do_not_query_per_row(admin_client: Client, url_name: str):
    def grow() -> None:
        company = CompanyFactory(negotiated_rate_plan=None)
        company.negotiated_rate_plan = RatePlanFactory(property=company.property)
        company.save()
        GuestGroupFactory(company=company, contact__property=company.property)

    grow()
    with CaptureQueriesContext(connection) as small:
        assert admin_client.get(reverse(url_name)).status_code == 200
    for _ in range(5):
        grow()
    with CaptureQueriesContext(connection) as large:
        assert admin_client.get(reverse(url_name)).status_code == 200
    assert len(large) == len(small)
    assert Company.objects.count() == 6 and GuestGroup.objects.count() == 6


def test_the_change_page_lists_possible_duplicates_and_filters_them(admin_client: Client):
    prop = PropertyFactory()
    guest = GuestFactory(property=prop, family_name="Moreau", email="moreau@example.com")
    twin = GuestFactory(property=prop, family_name="Moreau", email="moreau@example.com")
    GuestFactory(property=prop, family_name="Alone", date_of_birth=datetime.date(1999, 9, 9))
    page = admin_client.get(reverse("admin:guests_guest_change", args=[guest.pk]))
    assert reverse("admin:guests_guest_change", args=[twin.pk]) in page.content.decode()
    listed = admin_client.get(reverse("admin:guests_guest_changelist"), {"duplicates": "yes"})
    assert {g.pk for g in listed.context["cl"].result_list} == {guest.pk, twin.pk}


def test_history_says_which_personal_fields_changed_but_not_their_values(admin_client: Client):
    guest = GuestFactory(document_number="HIST12345")
    guest.document_number = "HIST67890"
    guest.family_name = "Renamed"
    guest.save()
    page = admin_client.get(reverse("admin:guests_guest_history", args=[guest.pk]))
    history = page.content.decode().split('id="change-history"')[1].split("</table>")[0]
    assert "Family name</strong>" in history
    assert "Renamed" not in history
    assert "(personal data, not kept in the audit log)" in history
    assert f"{pii.current_key_id()}$" not in history  # no ciphertext shown
    assert "HIST12345" not in history
    assert "search name" not in history
