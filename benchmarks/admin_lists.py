"""The admin's list pages at a hotel group's size: each page against its own main query.

The scratch database is grown with ``manage.py seed --scale`` to ``BENCH_GUESTS`` guests
(default 1,000,000; building them takes a few minutes) and their audit rows. Pages are
requested with Django's test client, in process, logged in as a superuser, so a page's time
is the server's: middleware, admin, every query and the template, no network.

For each page, one request is captured first (``CaptureQueriesContext``): its query count,
and its main query, the one that reads the page's rows (the widest SELECT from its table).
Then, in interleaved rounds, every page is requested once and its main query is run alone,
in the same round, on the same connection. The ratio page / main query says what the page
adds around its essential work (counts, filters, look-ups); the goal is at most 3x, and under
50 ms at the 95th percentile.
"""

from __future__ import annotations

import dataclasses
import io
import os
import random
import re
import statistics
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from benchmarks.scratch import ScratchDatabase
from benchmarks.timing import interleaved, paired_ratio

DEFAULT_GUESTS = 1_000_000
ROUNDS = 15
RATIO_GOAL = 3.0
P95_GOAL_MS = 50.0

GUESTS_URL = "/admin/guests/guest/"
AUDIT_URL = "/admin/audit/auditentry/"


@dataclasses.dataclass(frozen=True)
class Page:
    name: str
    url: str
    table: str  # the table the page's rows come from


@dataclasses.dataclass
class Captured:
    queries: int
    main_sql: str


def run(database: ScratchDatabase) -> None:
    size = int(os.environ.get("BENCH_GUESTS", DEFAULT_GUESTS))
    print(f"admin_lists: admin list pages at {size:,} guests")
    started = time.perf_counter()
    # Progress bar on stderr; the summary lines are the seed's business, not the table's.
    call_command("seed", "--scale", str(size), stdout=io.StringIO())
    with connection.cursor() as cursor:
        # What autovacuum would have done by the time anyone opens the pages.
        cursor.execute("VACUUM (ANALYZE) guests_guest")
        cursor.execute("ANALYZE audit_log")
    print(f"  seeded and analyzed in {time.perf_counter() - started:.0f}s")

    pages = _pages()
    client = _superuser_client()
    captured = {page: _capture(client, page) for page in pages}
    for page in pages:
        print(f"  {page.name}: main query: {_shorten(captured[page].main_sql)}")

    def measure(variant: tuple[Page, str], round_number: int) -> float:
        page, what = variant
        began = time.perf_counter()
        if what == "page":
            _get(client, page.url)
        else:
            with connection.cursor() as cursor:
                cursor.execute(captured[page].main_sql)
                cursor.fetchall()
        return time.perf_counter() - began

    variants = [(page, what) for page in pages for what in ("page", "query")]
    results = interleaved(variants, measure, rounds=ROUNDS, rng=random.Random(9))

    print(f"  {ROUNDS} interleaved rounds; times in ms (median, p95); ratio = page / main query")
    header = (
        f"  {'page':<18} {'queries':>7} {'page':>7} {'p95':>7} {'query':>7} {'ratio':>6}"
        f" {'(spread)':>14}  goal (<= {RATIO_GOAL:g}x, p95 < {P95_GOAL_MS:g} ms)"
    )
    print(header)
    for page in pages:
        page_times, query_times = results[(page, "page")], results[(page, "query")]
        ratio = paired_ratio(page_times, query_times)
        p95 = _p95(page_times) * 1000
        met = ratio.median <= RATIO_GOAL and p95 < P95_GOAL_MS
        print(
            f"  {page.name:<18} {captured[page].queries:>7}"
            f" {statistics.median(page_times) * 1000:>7.1f} {p95:>7.1f}"
            f" {statistics.median(query_times) * 1000:>7.1f} {ratio.median:>5.2f}x"
            f" {'(' + ratio.spread + ')':>14}  {'met' if met else 'NOT met'}"
        )
    connection.close()


def _pages() -> list[Page]:
    from guests.models import Guest
    from guests.seeding import SCALE_DOMAINS

    # A scaled guest with a phone, to look up by e-mail and by phone as staff would type them.
    guest = (
        Guest.objects.filter(email__endswith=f"@{SCALE_DOMAINS[0]}")
        .exclude(phone="")
        .values("email", "phone")
        .first()
    )
    if guest is None:
        raise RuntimeError("no scaled guest with a phone: did `seed --scale` run?")
    return [
        Page("guest list", GUESTS_URL, "guests_guest"),
        Page("search name", f"{GUESTS_URL}?q=silva", "guests_guest"),
        Page("search typo", f"{GUESTS_URL}?q=Cadroso", "guests_guest"),
        Page("search e-mail", f"{GUESTS_URL}?q={guest['email']}", "guests_guest"),
        Page(
            "search phone", f"{GUESTS_URL}?q={guest['phone'].replace('+', '%2B')}", "guests_guest"
        ),
        Page("audit browser", AUDIT_URL, "audit_log"),
    ]


def _superuser_client() -> Client:
    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    user = get_user_model().objects.filter(username="bench").first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench", "bench@example.com", None)
    client = Client()
    client.force_login(user)
    return client


def _get(client: Client, url: str) -> None:
    # secure=True: no redirect to https whatever SECURE_SSL_REDIRECT says.
    response = client.get(url, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")


def _capture(client: Client, page: Page) -> Captured:
    """The page's query count and its main query: the read of its rows from its table."""
    _get(client, page.url)  # warm: caches, the session, prepared connection
    with CaptureQueriesContext(connection) as queries:
        _get(client, page.url)
    table = re.compile(rf'\bFROM "{page.table}"')
    candidates = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith("SELECT")
        and table.search(query["sql"])
        and "COUNT(" not in query["sql"].upper()
    ]
    if not candidates:
        raise RuntimeError(f"{page.name}: no query reads a page of {page.table}")
    # The rows query is the one selecting the most columns (a list page shows whole rows).
    # It has a LIMIT only when the results fill more than one page: the admin reads a
    # single page of results without one.
    main = max(candidates, key=len)
    return Captured(queries=len(queries.captured_queries), main_sql=main)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def _shorten(text: str, width: int = 110) -> str:
    # The columns say little; what it reads, filters and orders by is after FROM.
    text = " ".join(text.split())
    text = text[text.find(" FROM ") + 1 :]
    return text if len(text) <= width else text[: width - 1] + "…"
