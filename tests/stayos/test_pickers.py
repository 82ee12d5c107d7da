"""Pickers offer only the rows of the property being edited: room types of the room's
hotel, a rate plan's room types, a guest's company, a company's negotiated rate plan."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from guests.models import Guest
from stayos.models import Room
from tests.factories import (
    CompanyFactory,
    GuestFactory,
    PropertyFactory,
    RatePlanFactory,
    RoomFactory,
    RoomTypeFactory,
)

pytestmark = pytest.mark.django_db

AUTOCOMPLETE = "admin:autocomplete"


@pytest.fixture
def hotels():
    lisbon = PropertyFactory(code="LIS1")
    edinburgh = PropertyFactory(code="EDI1")
    return {
        "lisbon": lisbon,
        "edinburgh": edinburgh,
        "lisbon_double": RoomTypeFactory(property=lisbon, code="DBL", name="Lisbon double"),
        "edinburgh_double": RoomTypeFactory(
            property=edinburgh, code="DBL", name="Edinburgh double"
        ),
    }


def _form(response):
    return response.context["adminform"].form


def _autocomplete(client: Client, **params) -> list[str]:
    response = client.get(reverse(AUTOCOMPLETE), {"term": "", **params})
    assert response.status_code == 200
    return sorted(result["text"] for result in response.json()["results"])


def test_adding_a_room_asks_for_the_hotel_first(admin_client: Client, hotels):
    url = reverse("admin:stayos_room_add")
    response = admin_client.get(url, {"_popup": "1"})
    assert response.templates[0].name == "admin/choose_property.html"
    page = response.content.decode()
    for hotel in ("lisbon", "edinburgh"):
        # The choice keeps the popup (an "add room" opened from another form).
        assert f"?_popup=1&amp;property={hotels[hotel].pk}" in page


def test_a_room_added_for_a_hotel_offers_its_room_types_only(admin_client: Client, hotels):
    lisbon = hotels["lisbon"]
    response = admin_client.get(reverse("admin:stayos_room_add"), {"property": lisbon.pk})
    form = _form(response)
    assert list(form.fields["property"].queryset) == [lisbon]
    assert list(form.fields["room_type"].queryset) == [hotels["lisbon_double"]]
    # The autocomplete asks the server for this hotel's room types.
    assert f'data-ajax--url="/admin/autocomplete/?property={lisbon.pk}"' in (
        response.content.decode()
    )
    picked = _autocomplete(
        admin_client,
        app_label="stayos",
        model_name="room",
        field_name="room_type",
        property=lisbon.pk,
    )
    assert picked == ["DBL · Lisbon double"]


def test_the_server_filters_whatever_the_browser_sends(admin_client: Client, hotels):
    lisbon, edinburgh = hotels["lisbon"], hotels["edinburgh"]
    url = reverse("admin:stayos_room_add") + f"?property={lisbon.pk}"
    data = {"number": "7", "floor": 0, "housekeeping_status": "clean"}
    response = admin_client.post(
        url, {**data, "property": lisbon.pk, "room_type": hotels["edinburgh_double"].pk}
    )
    assert "room_type" in _form(response).errors
    response = admin_client.post(
        url, {**data, "property": edinburgh.pk, "room_type": hotels["edinburgh_double"].pk}
    )
    assert "property" in _form(response).errors
    assert not Room.objects.exists()
    response = admin_client.post(
        url, {**data, "property": lisbon.pk, "room_type": hotels["lisbon_double"].pk}
    )
    assert response.status_code == 302
    assert str(Room.objects.get()) == "LIS1 · 7"

    params = {"app_label": "stayos", "model_name": "room", "field_name": "room_type"}
    assert _autocomplete(admin_client, **params, property="not-a-property") == []
    # A picker that names no property (a form posted without one) is not narrowed.
    assert _autocomplete(admin_client, **params) == [
        "DBL · Edinburgh double",
        "DBL · Lisbon double",
    ]


def test_a_rooms_change_form_offers_its_hotels_room_types(admin_client: Client, hotels):
    room = RoomFactory(room_type=hotels["edinburgh_double"], property=hotels["edinburgh"])
    response = admin_client.get(reverse("admin:stayos_room_change", args=[room.pk]))
    assert list(_form(response).fields["room_type"].queryset) == [hotels["edinburgh_double"]]
    assert f"/admin/autocomplete/?property={room.property_id}" in response.content.decode()


def test_the_add_button_of_a_list_filtered_by_hotel_opens_its_form(admin_client: Client, hotels):
    edinburgh = hotels["edinburgh"]
    response = admin_client.get(
        reverse("admin:stayos_rateplan_add"),
        {"_changelist_filters": f"property__id__exact={edinburgh.pk}"},
    )
    form = _form(response)
    assert list(form.fields["property"].queryset) == [edinburgh]
    # filter_horizontal: the plan's room types come from its hotel.
    assert list(form.fields["room_types"].queryset) == [hotels["edinburgh_double"]]


def test_a_rate_plans_change_form_offers_its_hotels_room_types(admin_client: Client, hotels):
    plan = RatePlanFactory(property=hotels["lisbon"])
    response = admin_client.get(reverse("admin:stayos_rateplan_change", args=[plan.pk]))
    assert list(_form(response).fields["room_types"].queryset) == [hotels["lisbon_double"]]


def test_with_one_hotel_the_add_form_opens_at_once(admin_client: Client):
    only = PropertyFactory()
    response = admin_client.get(reverse("admin:stayos_room_add"))
    assert list(_form(response).fields["property"].queryset) == [only]


def test_a_form_without_pickers_needs_no_first_step(admin_client: Client, hotels):
    response = admin_client.get(reverse("admin:stayos_amenity_add"))
    assert "adminform" in response.context


def test_guest_pickers_offer_their_hotels_companies_plans_and_guests(admin_client: Client, hotels):
    lisbon, edinburgh = hotels["lisbon"], hotels["edinburgh"]
    CompanyFactory(property=lisbon, name="Sardinha Lda")
    CompanyFactory(property=edinburgh, name="Haggis Ltd")
    RatePlanFactory(property=lisbon, code="CORP", name="Corporate Lisbon")
    RatePlanFactory(property=edinburgh, code="CORP", name="Corporate Edinburgh")
    GuestFactory(property=lisbon, given_name="Ana", family_name="Cardoso")
    GuestFactory(property=edinburgh, given_name="Ana", family_name="Cardoso")

    response = admin_client.get(reverse("admin:guests_guest_add"), {"property": lisbon.pk})
    assert f"/admin/autocomplete/?property={lisbon.pk}" in response.content.decode()
    guest_company = {"app_label": "guests", "model_name": "guest", "field_name": "company"}
    assert _autocomplete(admin_client, **guest_company, property=lisbon.pk) == ["Sardinha Lda"]

    company_plan = {
        "app_label": "guests",
        "model_name": "company",
        "field_name": "negotiated_rate_plan",
    }
    assert _autocomplete(admin_client, **company_plan, property=edinburgh.pk) == [
        "CORP · Corporate Edinburgh"
    ]

    group_contact = {"app_label": "guests", "model_name": "guestgroup", "field_name": "contact"}
    found = admin_client.get(
        reverse(AUTOCOMPLETE), {"term": "Cadroso", **group_contact, "property": edinburgh.pk}
    ).json()["results"]
    assert [Guest.objects.get(pk=result["id"]).property for result in found] == [edinburgh]
