"""The audit log, domain events and job runs open on the last 7 days, and their queries read
only the partitions of that window, through an index (issue 9 item 2).

The partitions that exist depend on today's date (this month, three ahead, and whatever the
migrations made): the expectations are computed from the catalog, not written down.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import JobRun
from stayos.models import Room
from stayos.partitioning.catalog import table_partitions
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db

AUDIT = reverse("admin:audit_auditentry_changelist")
EVENTS = reverse("admin:audit_domainevententry_changelist")
JOBS = reverse("admin:audit_jobrun_changelist")


def _event(occurred_at: datetime.datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO domain_event (occurred_at, name, aggregate_type, aggregate_id, payload)"
            " VALUES (%s, 'room.status_changed', 'stayos.room', gen_random_uuid(), '{}')",
            [occurred_at],
        )


def _plan_nodes(sql: str, **settings: str) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        for name, value in settings.items():
            cursor.execute(f"SET LOCAL {name} = {value}")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        (plan,) = cursor.fetchone()
        for name in settings:
            cursor.execute(f"RESET {name}")
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes, todo = [], [plan[0]["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", []))
    return nodes


def _window_partitions(table: str, start: datetime.datetime, end: datetime.datetime) -> set:
    """The partitions of ``table`` a query over [start, end) must read: the months it overlaps,
    and DEFAULT if no month partition covers part of it."""
    partitions = table_partitions(table)
    months = [p for p in partitions if not p.is_default and p.start < end and p.end > start]
    expected = {p.name for p in months}
    covered, cursor = True, start
    for month in sorted(months, key=lambda p: p.start):
        covered &= month.start <= cursor
        cursor = max(cursor, month.end)
    if not covered or cursor < end:
        expected |= {p.name for p in partitions if p.is_default}
    return expected


def _page_queries(client: Client, url: str, table: str) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    # The page's count and rows (the filters' value walks read every partition's index, a
    # step per value; the audit context rides along with the first statement).
    return response, [
        q["sql"]
        for q in captured
        if f'FROM "{table}"' in q["sql"] and "set_config" not in q["sql"]
        if "WITH RECURSIVE" not in q["sql"]
    ]


def _selected(response, title: str) -> str:
    cl = response.context["cl"]
    spec = next(spec for spec in cl.filter_specs if spec.title == title)
    return next(choice["display"] for choice in spec.choices(cl) if choice["selected"])


@pytest.mark.parametrize(("url", "table"), [(AUDIT, "audit_log"), (EVENTS, "domain_event")])
def test_the_browser_reads_only_the_windows_partitions(admin_client: Client, url, table):
    room = RoomFactory()  # an audit row
    Room.objects.filter(pk=room.pk).update(housekeeping_status="dirty")  # an event
    response, queries = _page_queries(admin_client, url, table)
    cl = response.context["cl"]
    assert _selected(response, "occurred at (period)") == "Last 7 days"
    start, end = next(spec for spec in cl.filter_specs if hasattr(spec, "window")).window()
    expected = _window_partitions(table, start, end)
    every = {p.name for p in table_partitions(table)}
    assert expected < every  # there is something to prune: the months ahead, at least
    assert len(queries) == 2  # the capped count and the page
    for sql in queries:
        scanned = {
            node["Relation Name"]
            for node in _plan_nodes(sql)
            if node.get("Relation Name") in every
        }
        assert scanned == expected, sql


@pytest.mark.parametrize(
    ("url", "table", "index"),
    [
        (AUDIT, "audit_log", "occurred_at_id"),
        (EVENTS, "domain_event", "occurred_at_id"),
        (JOBS, "audit_job_run", "audit_job_run_started"),
    ],
)
def test_an_index_serves_the_page_newest_first(admin_client: Client, url, table, index):
    RoomFactory()
    JobRun.objects.create(job="task:stayos.tasks.seal_audit_log", started_at=timezone.now())
    response, _ = _page_queries(admin_client, url, table)
    page = response.context["cl"].result_list
    sql, params = page.query.sql_with_params()
    with connection.cursor() as cursor:
        sql = cursor.mogrify(sql, params)
    # The test tables hold a handful of rows, so a sequential scan and a sort would win; with
    # both ruled out, the plan shows the index that reads the window newest first and stops.
    nodes = _plan_nodes(sql, enable_seqscan="off", enable_sort="off")
    scans = [node for node in nodes if node.get("Relation Name", "").startswith(table)]
    assert scans
    for node in scans:
        assert node["Node Type"] in {"Index Scan", "Index Only Scan"}, node
        assert node["Scan Direction"] == "Backward"
        assert index in node["Index Name"]
    assert not [node for node in nodes if "Sort" in node["Node Type"]]  # Incremental too


def test_it_opens_on_the_last_7_days_and_staff_widen_it(admin_client: Client):
    now = timezone.now()
    _event(now)
    _event(now - datetime.timedelta(days=20))
    _event(now - datetime.timedelta(days=400))

    def shown(query: str = "") -> int:
        return len(admin_client.get(EVENTS + query).context["cl"].result_list)

    assert shown() == 1
    assert shown("?period=30d") == 2
    assert shown("?period=any") == 3
    year_start = timezone.localdate().replace(month=1, day=1)
    this_year = 1 + int((now - datetime.timedelta(days=20)).date() >= year_start)
    assert shown("?period=year") == this_year
    since = (now - datetime.timedelta(days=500)).date().isoformat()
    until = (now - datetime.timedelta(days=100)).date().isoformat()
    response = admin_client.get(EVENTS, {"occurred_at__gte": since, "occurred_at__lt": until})
    assert len(response.context["cl"].result_list) == 1
    assert _selected(response, "occurred at (period)") == f"From {since} to before {until}"


def test_any_time_lists_every_row_with_a_capped_count(admin_client: Client):
    _event(timezone.now() - datetime.timedelta(days=400))
    response = admin_client.get(AUDIT, {"period": "any"})
    assert _selected(response, "occurred at (period)") == "Any time"
    # Unfiltered: the total is the capped count (the estimate only past the cap).
    assert response.context["cl"].result_count_text.isdigit()
    events = admin_client.get(EVENTS, {"period": "any"}).context["cl"]
    assert events.result_count_text == "1"


def test_job_runs_open_on_the_last_7_days(admin_client: Client):
    JobRun.objects.create(job="task:a", started_at=timezone.now())
    JobRun.objects.create(job="task:b", started_at=timezone.now() - datetime.timedelta(days=9))
    response = admin_client.get(JOBS)
    assert [run.job for run in response.context["cl"].result_list] == ["task:a"]
    assert _selected(response, "started at (period)") == "Last 7 days"
    # The job filter offers every job name, older runs' included (walked through the index).
    assert _selected(response, "job") == "All"
    cl = response.context["cl"]
    spec = next(spec for spec in cl.filter_specs if spec.title == "job")
    assert [choice["display"] for choice in spec.choices(cl)][1:] == ["task:a", "task:b"]


def test_any_time_past_the_cap_shows_the_estimate_summed_over_partitions(
    admin_client: Client, monkeypatch
):
    from audit.admin_lists import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "cap", 5)
    now = timezone.now()
    for days in (0, 0, 0, 40, 40, 40, 80, 80):  # several months' partitions
        _event(now - datetime.timedelta(days=days))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE domain_event")  # reaches every partition
    cl = admin_client.get(EVENTS, {"period": "any"}).context["cl"]
    assert cl.result_count_text == "about 8"
    # The window is a filter: past the cap it says so rather than guess.
    cl = admin_client.get(EVENTS, {"period": "year"}).context["cl"]
    assert cl.result_count_text in {"3", "6", "8", "more than 5"}
