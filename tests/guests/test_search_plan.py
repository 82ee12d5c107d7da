"""The search is served by the GIN indexes (EXPLAIN), on the seeded guests grown to the size
of a hotel group's guest book.

The seed alone (about 660 guests, some 60 pages) is small enough that PostgreSQL rightly
reads the whole table for some queries (~1 ms); a real guest book holds tens of thousands of
profiles. So the test seeds, then recombines the seeded given and family names into 10,000
profiles in all with one INSERT ... SELECT (the triggers fill their search columns), ANALYZEs,
and reads the plan. No planner switch (enable_seqscan) is touched.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from guests.models import Guest
from guests.selectors import guest_search

pytestmark = pytest.mark.django_db

GROWN_TO = 10_000

GROW = """
INSERT INTO guests_guest (property_id, kind, title, given_name, family_name, email, phone,
    nationality, language, document_type, city, country, marketing_consent, preferences,
    vip_level, search_name, search_phone, version)
SELECT p.property_id, 'individual', '', g.given_name, f.family_name, '', '', '', '', '', '',
    '', false, '{}', 0, '', '', 1
FROM (SELECT DISTINCT given_name FROM guests_guest WHERE given_name <> '') g
CROSS JOIN (SELECT DISTINCT family_name FROM guests_guest) f
CROSS JOIN (SELECT DISTINCT property_id FROM guests_guest) p
ORDER BY md5(g.given_name || f.family_name || p.property_id::text)
LIMIT %s
"""


@pytest.fixture
def guest_book():
    call_command("seed", "--today", "2026-11-22", stdout=io.StringIO())
    seeded = Guest.objects.count()
    assert seeded >= 500
    with connection.cursor() as cursor:
        cursor.execute(GROW, [GROWN_TO - seeded])
        cursor.execute("ANALYZE guests_guest")
    return Guest.objects.order_by("family_name").values_list("family_name", flat=True)


def _plan(query: str) -> str:
    plan = guest_search(query=query).explain(analyze=True)
    print(f"--- {query}\n{plan}")
    return plan


def test_three_letters_or_a_typo_are_served_by_the_gin_indexes(guest_book):
    plan = _plan(guest_book[250][:3])
    assert "Bitmap Index Scan on guests_guest_name_trgm" in plan
    assert "Bitmap Index Scan on guests_guest_search_vector" in plan
    assert "Seq Scan on guests_guest" not in plan

    surname = next(name for name in guest_book if len(name) >= 7 and name.isalpha())
    dropped = surname[:3] + surname[4:]  # one letter missing
    swapped = surname[:2] + surname[3] + surname[2] + surname[4:]  # two letters swapped
    for typo in (dropped, swapped):
        assert surname in {guest.family_name for guest in guest_search(query=typo)}
        plan = _plan(typo)
        assert "Bitmap Index Scan on guests_guest_typo_keys" in plan
        assert "Bitmap Index Scan on guests_guest_name_trgm" in plan
        assert "Seq Scan on guests_guest" not in plan


def test_the_closest_names_are_ranked_among_the_rows_found_only(guest_book):
    surname = next(name for name in guest_book if len(name) >= 7 and name.isalpha())
    swapped = surname[:2] + surname[3] + surname[2] + surname[4:]
    found = guest_search(query=swapped)
    assert found[0].family_name == surname
    plan = _plan(swapped)
    # The ranking functions run in the sort above the index scans, for the few rows found.
    sort = plan.split("Bitmap Heap Scan on guests_guest")[0]
    # Typo keys counted inline (array containments), no subquery run per row found.
    assert "search_typos @> " in sort
    assert "SubPlan" not in plan and "guests_shared_typo_keys" not in plan
    assert "Seq Scan" not in plan


def test_the_guest_list_reads_names_in_order_from_their_index(guest_book):
    # The ICU collation of the name columns is the index's own: a page of the unsearched
    # list (as the admin orders it) is read from the index, not sorted from the table.
    page = Guest.objects.order_by("family_name", "given_name", "pk")[:100]
    plan = page.explain()
    assert "guests_guest_name_order" in plan
    assert "Seq Scan on guests_guest" not in plan


def test_one_or_two_letters_are_listed_in_name_order_not_ranked(guest_book):
    surname = next(name for name in guest_book if len(name) >= 7 and name.isalpha())
    for typed in (surname[:1], surname[:2]):
        found = guest_search(query=typed)
        assert surname in {guest.family_name for guest in found}
        assert "strict_word_similarity" not in str(found.query).lower(), typed
    # From three letters on, the closest come first.
    assert "strict_word_similarity" in str(guest_search(query=surname[:3]).query).lower()
