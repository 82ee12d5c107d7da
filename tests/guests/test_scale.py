"""`manage.py seed --scale N`: many guests, each as good as one made through the admin."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from guests import seeding
from guests.models import Guest
from guests.seeding import SCALE_DOMAINS
from guests.selectors import guest_search
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SCALED = rf"@({'|'.join(domain.replace('.', '[.]') for domain in SCALE_DOMAINS)})$"


def _seed(*args: str) -> None:
    call_command(
        "seed", "--today", "2026-11-22", *args, stdout=io.StringIO(), stderr=io.StringIO()
    )


def _typo(word: str) -> str:
    # Two letters swapped in the middle: "Cardoso" -> "Cadroso".
    middle = len(word) // 2
    return word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1 :]


@pytest.mark.django_db(transaction=True)
def test_it_scales_the_demo_to_n_guests_each_encrypted_indexed_searchable_and_audited(
    monkeypatch,
):
    # Committed batches, loaded by two connections at once, search indexes rebuilt after:
    # the path a million guests take.
    monkeypatch.setattr(seeding, "SCALE_BATCH", 400)
    _seed("--scale", "2500")
    indexes = {index.name for index in Guest._meta.indexes}
    with connection.cursor() as cursor:
        present = connection.introspection.get_constraints(cursor, Guest._meta.db_table)
    assert indexes <= set(present)

    assert Guest.all_objects.count() == 2500
    scaled = list(Guest.all_objects.filter(email__regex=SCALED))  # decrypts every field
    assert len(scaled) == 2500 - 664
    assert sum(guest.document_number is not None for guest in scaled) > 1000
    assert sum(guest.date_of_birth is not None for guest in scaled) > 1500
    # One audit row per guest inserted, with the seed's context, and no personal data in it.
    inserts = AuditEntry.objects.filter(table_name="guests_guest", action="insert")
    assert inserts.count() == 2500
    assert set(
        inserts.filter(row_id__in=[g.pk for g in scaled[:50]]).values_list("source", flat=True)
    ) == {"command:seed"}
    assert not any("given_name" in entry.new for entry in inserts[:50])

    index = Guest._meta.get_field("document_number_index")
    with_document = [guest for guest in scaled if guest.document_number][:100]
    for guest in with_document:
        assert list(
            Guest.all_objects.filter(document_number_index=index.digest(guest.document_number))
        ) == [guest]

    guest = next(
        g for g in scaled if g.phone and len(g.family_name) >= 6 and " " not in g.family_name
    )
    for query in (guest.family_name, _typo(guest.family_name), guest.email, guest.phone):
        assert guest in guest_search(query=query), query


def test_it_grows_to_the_size_asked_and_never_shrinks():
    _seed("--scale", "1000")
    first = set(Guest.all_objects.values_list("pk", flat=True))
    _seed("--scale", "800")
    assert set(Guest.all_objects.values_list("pk", flat=True)) == first
    _seed("--scale", "1200")
    assert Guest.all_objects.count() == 1200
    assert first < set(Guest.all_objects.values_list("pk", flat=True))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scale", "0"], "from 1 to"),
        (["--scale", "-5"], "from 1 to"),
        (["--scale", "100000000"], "from 1 to"),
        (["--scale", "lots"], "invalid int value"),
        (["--scale", "1000", "--roles-only"], "drop --scale"),
    ],
)
def test_it_refuses_a_nonsense_scale(args, message):
    with pytest.raises(CommandError, match=message):
        _seed(*args)
    assert not Guest.all_objects.exists()


PAGES = {
    "guest list": "/admin/guests/guest/",
    "search name": "/admin/guests/guest/?q=silva",
    "search typo": "/admin/guests/guest/?q=Cadroso",
    "search e-mail": "/admin/guests/guest/?q=example.com",
    "search phone": "/admin/guests/guest/?q=%2B351",
    "audit browser": "/admin/audit/auditentry/",
}


def _query_counts(client: Client) -> dict[str, int]:
    counts = {}
    for name, url in PAGES.items():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, name
        counts[name] = len(queries.captured_queries)
    return counts


def test_the_admin_list_pages_run_as_many_queries_at_two_sizes():
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    _seed("--scale", "700")
    _query_counts(client)  # first request: the session, content types and the like
    small = _query_counts(client)
    _seed("--scale", "1600")
    assert _query_counts(client) == small


@pytest.mark.django_db(transaction=True)
def test_a_run_killed_while_the_indexes_were_dropped_is_repaired_by_the_next():
    _seed()
    lookup = next(index for index in Guest._meta.indexes if index.name.endswith("typo_keys"))
    with connection.schema_editor() as editor:
        editor.remove_index(Guest, lookup)
    _seed("--scale", "700")
    with connection.cursor() as cursor:
        present = connection.introspection.get_constraints(cursor, Guest._meta.db_table)
    assert lookup.name in present
