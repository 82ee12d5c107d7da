"""Every StayOS list costs the same at a million rows as at a thousand (issue 9).

The admin registry decides what is checked: a list registered later (reservations, the
ledger) is included without a change here.
"""

from __future__ import annotations

import datetime
import itertools
import re
from urllib.parse import parse_qsl

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.admin_lists import CappedCountPaginator, ScaledListAdmin
from audit.models import AuditSeal, JobRun
from stayos.models import Room
from tests.factories import (
    AmenityFactory,
    CompanyFactory,
    GuestFactory,
    GuestGroupFactory,
    RatePlanFactory,
    RoomFactory,
)

pytestmark = pytest.mark.django_db

STAYOS_APPS = {"audit", "stayos", "guests", "reservations", "billing"}

ADMINS = sorted(
    (
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in STAYOS_APPS
    ),
    key=lambda pair: pair[0]._meta.label,
)

# A count is a statement of its own (SELECT COUNT(*) … ); bounded, it ends with the LIMIT of
# the subquery it counts. (A per-row count inside the page's query, such as a property's
# rooms, is not one of these.)
_COUNT = re.compile(r"\s*SELECT COUNT\(", re.IGNORECASE)
_BOUNDED = re.compile(r"LIMIT \d+\) subquery\s*$")

_days = itertools.count()


def _grow() -> None:
    """One more row in every table a StayOS list shows (audit rows come with them)."""
    room = RoomFactory()
    # room.status_changed, written by the room's trigger: a domain event.
    Room.objects.filter(pk=room.pk).update(housekeeping_status="dirty")
    RatePlanFactory(property=room.property)
    AmenityFactory(property=room.property)
    company = CompanyFactory(property=room.property)
    GuestFactory(property=room.property, company=company, kind="corporate", vip_level=1)
    GuestGroupFactory(contact__property=room.property, company=company)
    JobRun.objects.create(job="task:stayos.tasks.seal_audit_log", started_at=timezone.now())
    AuditSeal.objects.create(
        day=datetime.date(2020, 1, 1) + datetime.timedelta(days=next(_days)),
        row_count=0,
        rows_digest="0" * 64,
        seal="0" * 64,
    )


def _url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _get(client: Client, url: str) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return response, [query["sql"] for query in captured]


def _filtered_urls(client: Client, url: str) -> list[str]:
    """The list with each filter of its sidebar applied (its first choice that narrows)."""
    cl = client.get(url).context["cl"]
    urls = []
    for spec in cl.filter_specs:
        choices = [choice for choice in spec.choices(cl) if not choice["selected"]]
        if choices:
            urls.append(url + choices[-1]["query_string"])
    if cl.search_fields:
        urls.append(url + "?q=abc")
    return urls


def _whole_table_work(queries: list[str]) -> list[str]:
    return [
        sql
        for sql in queries
        if "DISTINCT" in sql.upper() or (_COUNT.match(sql) and not _BOUNDED.search(sql))
    ]


def test_every_stayos_admin_uses_the_scaled_list():
    assert ADMINS
    for model, model_admin in ADMINS:
        assert isinstance(model_admin, ScaledListAdmin), model._meta.label


@pytest.mark.parametrize("model", [model for model, _ in ADMINS], ids=lambda m: m._meta.label)
def test_it_never_counts_or_distincts_a_whole_table(admin_client: Client, model):
    for _ in range(3):
        _grow()
    url = _url(model)
    _, queries = _get(admin_client, url)
    assert _whole_table_work(queries) == [], url
    filtered = _filtered_urls(admin_client, url)
    for filtered_url in filtered:
        _, queries = _get(admin_client, filtered_url)
        assert _whole_table_work(queries) == [], filtered_url


@pytest.mark.parametrize("model", [model for model, _ in ADMINS], ids=lambda m: m._meta.label)
def test_the_number_of_queries_does_not_grow_with_the_rows(admin_client: Client, model):
    _grow()
    url = _url(model)
    urls = [url, *_filtered_urls(admin_client, url)]
    small = [len(_get(admin_client, each)[1]) for each in urls]
    for _ in range(6):
        _grow()
    large = [len(_get(admin_client, each)[1]) for each in urls]
    assert dict(zip(urls, large, strict=True)) == dict(zip(urls, small, strict=True))


def test_a_small_list_says_its_exact_total(admin_client: Client):
    RoomFactory.create_batch(3)
    response, _ = _get(admin_client, _url(Room))
    assert response.context["cl"].result_count_text == "3"
    assert "3 rooms" in response.content.decode()


@pytest.fixture
def cap_of_five(monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 5)


def test_a_big_unfiltered_list_shows_the_planners_estimate(admin_client: Client, cap_of_five):
    RoomFactory.create_batch(12)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE stayos_room")
    response, queries = _get(admin_client, _url(Room))
    cl = response.context["cl"]
    assert cl.result_count_text == "about 12"
    assert "about 12 rooms" in response.content.decode()
    # Page links reach the cap: 5 rows at 100 a page is one page.
    assert cl.paginator.num_pages == 1
    assert _whole_table_work(queries) == []


def test_a_stale_estimate_under_the_cap_says_more_than_the_cap(admin_client: Client, cap_of_five):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE stayos_room")  # the statistics of an empty table
    RoomFactory.create_batch(8)  # added since: the planner knows of no rows
    response, _ = _get(admin_client, _url(Room))
    assert response.context["cl"].result_count_text == "more than 5"


def test_a_big_filtered_list_says_more_than_the_cap(admin_client: Client, cap_of_five):
    rooms = RoomFactory.create_batch(8)
    Room.objects.filter(pk__in=[room.pk for room in rooms]).update(housekeeping_status="dirty")
    url = _url(Room) + "?housekeeping_status__exact=dirty"
    response, queries = _get(admin_client, url)
    assert response.context["cl"].result_count_text == "more than 5"
    assert "more than 5 rooms" in response.content.decode()
    counts = [sql for sql in queries if _COUNT.match(sql)]
    assert len(counts) == 1 and "LIMIT 6) subquery" in counts[0]


def test_page_links_stop_at_the_cap(admin_client: Client, cap_of_five, monkeypatch):
    from stayos.admin import RoomAdmin

    monkeypatch.setattr(RoomAdmin, "list_per_page", 2)
    RoomFactory.create_batch(9)
    url = _url(Room) + "?housekeeping_status__exact=clean"
    cl = admin_client.get(url).context["cl"]
    assert cl.paginator.num_pages == 3  # the first 5 rows, 2 a page
    assert len(cl.result_list) == 2
    # A page past the cap is out of range: the admin falls back to the first page.
    response = admin_client.get(url + "&p=4")
    assert response.status_code == 302
    assert dict(parse_qsl(response.url.split("?", 1)[1])).get("e") == "1"


def test_every_indexed_values_filter_walks_an_index():
    from audit.admin_lists import IndexedValuesFilter

    walked = [
        (model, field)
        for model, model_admin in ADMINS
        for field, filter_class in (
            spec for spec in model_admin.list_filter if isinstance(spec, tuple)
        )
        if filter_class is IndexedValuesFilter
    ]
    assert walked
    with connection.cursor() as cursor:
        for model, field in walked:
            column = model._meta.get_field(field).column
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
            leading = {c["columns"][0] for c in constraints.values() if c["index"]}
            assert column in leading, f"{model._meta.label}.{field} leads no index"


def test_a_list_far_past_the_cap_is_not_counted_at_all(admin_client: Client, cap_of_five):
    RoomFactory.create_batch(60)  # more than ten times the cap
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE stayos_room")
    response, queries = _get(admin_client, _url(Room))
    assert response.context["cl"].result_count_text == "about 60"
    assert [sql for sql in queries if _COUNT.match(sql)] == []


def test_a_search_counts_only_up_to_the_search_cap(admin_client: Client, monkeypatch):
    from audit import admin_lists
    from guests.models import Guest

    monkeypatch.setattr(admin_lists, "SEARCH_COUNT_CAP", 3)
    GuestFactory.create_batch(5, family_name="Aguilera")
    response, queries = _get(admin_client, _url(Guest) + "?q=aguilera")
    assert response.context["cl"].result_count_text == "more than 3"
    counts = [sql for sql in queries if _COUNT.match(sql)]
    assert len(counts) == 1 and "LIMIT 4) subquery" in counts[0]


def test_the_guest_list_leaves_search_columns_and_ciphertext_unread(admin_client: Client):
    from guests.models import Guest

    GuestFactory(family_name="Aguilera", notes="allergic to feathers")
    for url in (_url(Guest), _url(Guest) + "?q=aguilera"):
        response, queries = _get(admin_client, url)
        assert "Aguilera" in response.content.decode()
        page = [sql for sql in queries if '"guests_guest"."family_name"' in sql]
        assert page, url
        for column in ("search_vector", "search_typos", "notes", "document_number"):
            assert f'"guests_guest"."{column}",' not in page[-1].split(" FROM ")[0], column


def test_each_row_has_a_checkbox_an_action_can_use(admin_client: Client):
    room = RoomFactory()
    response = admin_client.get(_url(Room))
    html = response.content.decode()
    assert (
        f'<input type="checkbox" name="_selected_action" value="{room.pk}" class="action-select"'
    ) in html
    assert f'aria-label="Select this object for an action - {room}"' in html
