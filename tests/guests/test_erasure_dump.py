"""After a GDPR erasure, a dump of the whole database holds none of the guest's personal data."""

from __future__ import annotations

import os
import subprocess

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from guests.models import Guest
from guests.services import guest_anonymize
from tests.admin_forms import as_posted
from tests.factories import GuestGroupFactory, PropertyFactory, UserFactory

PG_DUMP = os.path.join(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"), "pg_dump")

PERSONAL = {
    "given_name": "Zephyrine",
    "family_name": "Quillfeather",
    "email": "zephyrine.quill@example.org",
    "phone": "+351 912 777 431",
    "date_of_birth": "1979-03-14",
    "document_number": "QX9988776",
    "address": "Rua das Flores 77, Quillhaven",
    "city": "Quillhaven",
    "notes": "Allergic to quillwort",
}
# How each value may be written down: as typed, and as stored (phone in E.164).
NEEDLES = [*PERSONAL.values(), "+351912777431", "Quillfeather".lower(), "quillfeather"]


def _dump() -> str:
    settings = connection.settings_dict
    result = subprocess.run(
        [
            PG_DUMP,
            "--data-only",
            "--host",
            settings["HOST"] or "127.0.0.1",
            "--port",
            str(settings["PORT"] or 5432),
            "--username",
            settings["USER"] or "postgres",
            settings["NAME"],
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""},
    )
    return result.stdout


@pytest.mark.django_db(transaction=True)
def test_a_dump_after_anonymizing_holds_none_of_the_guests_personal_data():
    prop = PropertyFactory()
    client = Client()
    client.force_login(UserFactory(username="desk"))
    data = {
        "property": prop.pk,
        "kind": "individual",
        "vip_level": 0,
        "title": "ms",
        "language": "pt",
        "nationality": "PT",
        "document_type": "passport",
        "country": "PT",
        "preferences": '{"pillow": "Quillfeather down"}',
        **PERSONAL,
    }
    add_url = f"{reverse('admin:guests_guest_add')}?property={prop.pk}"
    for inline in client.get(add_url).context["inline_admin_formsets"]:
        data.update(as_posted(inline.formset.management_form))
    response = client.post(add_url, data)
    assert response.status_code == 302, response.context and response.context["adminform"].errors
    guest = Guest.objects.get(family_name="Quillfeather")
    edit = client.get(reverse("admin:guests_guest_change", args=[guest.pk]))
    assert edit.status_code == 200
    GuestGroupFactory(property=prop, contact=guest, name="Lisbon tour")
    dump = _dump()
    assert all(needle in dump for needle in ("Zephyrine", "Quillfeather")), "the dump reads"

    guest_anonymize(guest=guest, actor=None)

    dump = _dump()
    found = sorted({needle for needle in NEEDLES if needle.lower() in dump.lower()})
    assert found == [], f"personal data left in the database: {found}"
