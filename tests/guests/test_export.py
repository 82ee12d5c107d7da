"""manage.py guests export: the guest's data as JSON (right of access)."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from audit.models import DomainEventEntry
from tests.factories import GuestFactory, GuestGroupFactory

pytestmark = pytest.mark.django_db


def test_it_writes_the_guests_data_decrypted(tmp_path):
    guest = GuestFactory(
        family_name="Kowalski",
        document_number="AZ9876543",
        date_of_birth=datetime.date(1970, 7, 7),
        notes="Vegan",
    )
    GuestGroupFactory(contact=guest, property=guest.property, name="Chopin choir")
    output = tmp_path / "export.json"
    call_command("guests", "export", str(guest.pk), "--output", str(output), stderr=io.StringIO())
    data = json.loads(output.read_text())
    profile = data["guest"]
    assert profile["family_name"] == "Kowalski"
    assert profile["document_number"] == "AZ9876543"
    assert profile["date_of_birth"] == "1970-07-07"
    assert profile["notes"] == "Vegan"
    assert "document_number_index" not in profile and "search_vector" not in profile
    [group] = data["related"]["guests.guestgroup.contact"]
    assert group["name"] == "Chopin choir"
    assert data["history"][0]["action"] == "insert"
    assert DomainEventEntry.objects.filter(name="guest.exported", aggregate_id=guest.pk).exists()


def test_it_prints_to_stdout_and_refuses_an_unknown_id():
    guest = GuestFactory(family_name="Tanaka")
    out = io.StringIO()
    call_command("guests", "export", str(guest.pk), stdout=out)
    assert json.loads(out.getvalue())["guest"]["family_name"] == "Tanaka"
    with pytest.raises(CommandError, match="No guest"):
        call_command("guests", "export", "01a200ba-0bea-7f52-b1ed-1f47bed4b16b")


def test_the_admin_action_downloads_it(admin_client: Client):
    guest = GuestFactory(family_name="Novak")
    response = admin_client.post(
        reverse("admin:guests_guest_changelist"),
        {"action": "export_one", "_selected_action": [guest.pk]},
    )
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["guest"]["family_name"] == "Novak"
