"""Admin lists that cost the same at a million rows as at a thousand, shared by every app.

Django's changelist does, on every page, work that grows with the table: ``paginator.count``
(a ``COUNT(*)`` over the filtered list), a second ``COUNT(*)`` over the whole table when
``show_full_result_count`` is on, ``SELECT DISTINCT`` for each list filter on a plain field,
and ``dates()`` (DISTINCT again) for a date hierarchy. At 300k guests that was 65 ms + 2 x 35
ms around a 6 ms search. Here instead:

- a total is counted only up to ``COUNT_CAP`` rows (``SELECT count(*) FROM (SELECT … LIMIT
  cap + 1)``): exact below it; above it an unfiltered list shows the planner's estimate
  (``pg_class.reltuples``, summed over a partitioned table's partitions) as "about 1.2M", a
  filtered or searched one "more than 10,000". Page links reach the cap; further rows are
  for a narrower filter. The same queries run on every page, whatever the table's size;
- filters offer choices, a small related table, or a plain column's values walked through an
  index (``IndexedValuesFilter``), never a ``DISTINCT`` over the big table;
- ``RecentFilter`` opens a time-ordered browser on the last 7 days, so its queries touch the
  recent partitions only.

The audit app is the lowest layer: ``ReadOnlyAdmin`` uses this directly, and the kernel's
``TrackedAdmin`` (``stayos.admin.base``) imports it from here.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import (
    ALL_VAR,
    ERROR_FLAG,
    IS_FACETS_VAR,
    IS_POPUP_VAR,
    ORDER_VAR,
    PAGE_VAR,
    SEARCH_VAR,
    TO_FIELD_VAR,
    ChangeList,
)
from django.core.exceptions import ValidationError
from django.core.paginator import InvalidPage, Paginator
from django.db import connection, models
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext

# Exact counts up to here; beyond it a list says "more than 10,000" (or "about 1.2M").
COUNT_CAP = 10_000
# A search counts less far: each row it counts is a full-text match re-checked on the row,
# and a one-letter search matches a sixth of the guests (10,001 of them: 150 ms at 1M).
SEARCH_COUNT_CAP = 1_000

# An unfiltered list whose planner estimate is this many times the cap is not counted at all.
SURE_ESTIMATE_FACTOR = 10

# Query-string keys that do not narrow the list (page, sort order, popup bookkeeping).
# (The search box counts through ``cl.query``: an empty ``?q=`` narrows nothing.)
_NOT_FILTERS = {
    ALL_VAR,
    ERROR_FLAG,
    IS_FACETS_VAR,
    IS_POPUP_VAR,
    ORDER_VAR,
    PAGE_VAR,
    SEARCH_VAR,
    TO_FIELD_VAR,
}


def estimated_rows(table: str) -> int:
    """The planner's row estimate for ``table``: its partitions' summed if it is partitioned.

    Never-analyzed tables report -1 (unknown) and count as 0, so a new table is counted
    exactly rather than guessed at.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            # The table itself, or the leaves of its partition tree (a partitioned parent
            # holds no rows of its own).
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM pg_class c"
            " WHERE c.relkind = 'r' AND (c.oid = %(table)s::regclass"
            " OR c.oid IN (SELECT relid FROM pg_partition_tree(%(table)s::regclass)))",
            {"table": connection.ops.quote_name(table)},
        )
        return cursor.fetchone()[0]


def capped_count(queryset: models.QuerySet, cap: int = COUNT_CAP) -> int:
    """How many rows ``queryset`` holds, counted up to ``cap + 1`` and no further."""
    # A sliced queryset counts as SELECT COUNT(*) FROM (SELECT … LIMIT cap + 1) subquery.
    return queryset.order_by().values("pk")[: cap + 1].count()


def approximately(rows: int) -> str:
    """12 → "12", 12_345 → "12k", 1_234_567 → "1.2M": an estimate read at a glance."""
    if rows >= 1_000_000:
        return f"{rows / 1_000_000:.1f}".removesuffix(".0") + "M"
    if rows >= 10_000:
        return f"{round(rows / 1000)}k"
    return f"{rows:,}"


class CappedCountPaginator(Paginator):
    """A paginator that never counts a whole big table.

    The rows are counted up to the cap (bounded work whatever the table's size, so a 12-row
    list says 12 even when the statistics are stale). Past the cap, an unfiltered list gives
    the planner's ``estimate`` ("about 1.2M"), a filtered one says "more than 10,000".
    ``estimate`` is given (by ``ScaledChangeList``) only for unfiltered lists.
    """

    cap = COUNT_CAP

    def __init__(
        self,
        object_list: Any,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
        *,
        estimate: int | None = None,
        cap: int | None = None,
    ) -> None:
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.estimate = estimate
        if cap is not None:
            self.cap = cap

    @cached_property
    def counted(self) -> int:
        """Rows counted, at most ``cap + 1``."""
        return capped_count(self.object_list, self.cap)

    @cached_property
    def count(self) -> int:
        return self.estimate if self.is_estimate else self.counted

    @property
    def is_estimate(self) -> bool:
        # Far past the cap, the estimate alone decides: counting cap + 1 rows (an index walk
        # of 10,001 entries, milliseconds at a million rows) would only confirm it. Near the
        # cap the rows are counted, as an estimate there may lag the table (autovacuum's
        # ANALYZE refreshes it); past the count, all that is known is "more than the cap".
        estimate = self.estimate or 0
        if estimate > SURE_ESTIMATE_FACTOR * self.cap:
            return True
        return estimate > self.cap and self.counted > self.cap

    @property
    def is_capped(self) -> bool:
        return not self.is_estimate and self.counted > self.cap

    @property
    def total_text(self) -> str:
        """The total as the list shows it: "12", "about 1.2M", "more than 10,000"."""
        if self.is_estimate:
            return f"about {approximately(self.count)}"
        if self.is_capped:
            return f"more than {self.cap:,}"
        return f"{self.count:,}"

    @cached_property
    def num_pages(self) -> int:
        # Page links reach the cap: past it, OFFSET would read every row it skips.
        if self.count == 0 and not self.allow_empty_first_page:
            return 0
        hits = max(1, min(self.count, self.cap) - self.orphans)
        return math.ceil(hits / self.per_page)


class ScaledChangeList(ChangeList):
    """Django's changelist with the counting done by ``CappedCountPaginator``."""

    def is_filtered(self) -> bool:
        """Whether the list shows less than the whole table: a search, a filter that narrows
        (``RecentFilter``'s window does by default, its "any time" does not), or a lookup
        typed in the URL (``?company__id__exact=…``)."""
        if self.query:
            return True
        consumed = set()
        for spec in self.filter_specs:
            consumed.update(spec.expected_parameters())
            if getattr(spec, "narrows", bool(getattr(spec, "used_parameters", None))):
                return True
        return any(key not in _NOT_FILTERS and key not in consumed for key in self.params)

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> Any:
        # Columns no list shows (search vectors, ciphertext) stay in the table: the rows of a
        # page are sorted and sent narrower.
        queryset = super().get_queryset(request, exclude_parameters)
        deferred = getattr(self.model_admin, "list_defer", ())
        return queryset.defer(*deferred) if deferred else queryset

    def get_results(self, request: HttpRequest) -> None:
        estimate = None if self.is_filtered() else estimated_rows(self.model._meta.db_table)
        paginator = self.model_admin.get_paginator(
            request,
            self.queryset,
            self.list_per_page,
            estimate=estimate,
            cap=SEARCH_COUNT_CAP if self.query else None,
        )
        result_count = paginator.count
        can_show_all = result_count <= self.list_max_show_all
        multi_page = result_count > self.list_per_page
        if (self.show_all and can_show_all) or not multi_page:
            result_list = self.queryset._clone()
        else:
            try:
                result_list = paginator.page(self.page_num).object_list
            except InvalidPage as error:
                raise IncorrectLookupParameters from error
        self.result_count = result_count
        self.result_count_text = paginator.total_text
        # Never the second COUNT(*) over the whole table; actions stay offered.
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.full_result_count = None
        self.result_list = result_list
        self.can_show_all = can_show_all
        self.multi_page = multi_page
        self.paginator = paginator
        # What Django's {% pagination %} tag computes, for templates/admin/scaled_change_list.
        self.pagination_required = (not self.show_all or not can_show_all) and multi_page
        self.page_range = (
            paginator.get_elided_page_range(self.page_num) if self.pagination_required else []
        )
        self.pages_stop_at_cap = self.pagination_required and result_count > paginator.cap
        show_all = can_show_all and not self.show_all and multi_page
        self.show_all_url = self.get_query_string({ALL_VAR: ""}) if show_all else ""


class ScaledListAdmin(admin.ModelAdmin):
    """The changelist every StayOS admin uses: capped counts, no whole-table work per page."""

    paginator = CappedCountPaginator
    # Columns the list never shows, left unread by its query (``ScaledChangeList``).
    list_defer: tuple[str, ...] = ()
    show_full_result_count = False
    # Facet counts are a COUNT per filter choice over the whole filtered list.
    show_facets = admin.ShowFacets.NEVER
    # Templates (templates/admin/) print ``cl.result_count_text``; see ScaledChangeList.
    change_list_template = "admin/scaled_change_list.html"

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ScaledChangeList

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: models.QuerySet,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
        *,
        estimate: int | None = None,
        cap: int | None = None,
    ) -> Paginator:
        return self.paginator(
            queryset, per_page, orphans, allow_empty_first_page, estimate=estimate, cap=cap
        )

    def action_checkbox(self, obj: models.Model) -> str:
        # Django renders this through the form widget templates, a template render per row:
        # a quarter of a 100-row page's time. Same markup, built directly.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            format_html(gettext("Select this object for an action - {}"), str(obj)),
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None) or {}
        cl = context.get("cl")
        if cl is not None and hasattr(cl, "result_count_text"):
            # "All 10001 selected" would be a made-up number: say what is known.
            context["selection_note_all"] = f"All {cl.result_count_text} selected"
        return response


def indexed_values(model: type[models.Model], column: str, *, limit: int = 100) -> list[Any]:
    """The distinct values of ``column``, walked through its index one value at a time.

    A recursive "skip scan": each step asks the index for the next larger value, so the cost
    grows with the number of values (a few floors, a dozen job names), not with the rows. The
    column must lead a btree index. At most ``limit`` values.
    """
    quote = connection.ops.quote_name
    table, col = quote(model._meta.db_table), quote(column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE walk(value) AS (
                (SELECT {col} FROM {table} WHERE {col} IS NOT NULL ORDER BY {col} LIMIT 1)
                UNION ALL
                SELECT (SELECT {col} FROM {table} WHERE {col} > walk.value ORDER BY {col} LIMIT 1)
                FROM walk WHERE walk.value IS NOT NULL
            )
            SELECT value FROM walk WHERE value IS NOT NULL LIMIT %s
            """,
            [limit],
        )
        return [row[0] for row in cursor.fetchall()]


class IndexedValuesFilter(admin.AllValuesFieldListFilter):
    """``AllValuesFieldListFilter`` without its ``SELECT DISTINCT``: the values come from the
    column's index (``indexed_values``). Same query string (``?floor=2``)."""

    def __init__(self, field, request, params, model, model_admin, field_path) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        # The parent left a lazy DISTINCT queryset here; it is never evaluated.
        self.lookup_choices = indexed_values(model, field.column)


class RecentFilter(admin.FieldListFilter):
    """A time-ordered browser opens on the last 7 days; staff pick 30 days, this year or any
    time, or give a range (``?<field>__gte=…&<field>__lt=…``).

    The window is a constant range on the partition key, so PostgreSQL reads only the
    partitions it overlaps.
    """

    parameter_name = "period"
    default_period = "7d"
    periods = {"7d": "Last 7 days", "30d": "Last 30 days", "year": "This year", "any": "Any time"}

    def __init__(self, field, request, params, model, model_admin, field_path) -> None:
        self.gte = f"{field_path}__gte"
        self.lt = f"{field_path}__lt"
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = f"{getattr(field, 'verbose_name', field_path)} (period)"

    def expected_parameters(self) -> list[str]:
        return [self.gte, self.lt, self.parameter_name]

    def _value(self, key: str) -> str | None:
        value = self.used_parameters.get(key)
        if isinstance(value, list):
            value = value[-1] if value else None
        return value or None

    @property
    def custom_range(self) -> bool:
        return bool(self._value(self.gte) or self._value(self.lt))

    @property
    def period(self) -> str:
        value = self._value(self.parameter_name)
        return value if value in self.periods else self.default_period

    @property
    def narrows(self) -> bool:
        return self.custom_range or self.period != "any"

    @staticmethod
    def _moment(value: str) -> datetime.datetime:
        """``2026-11-24`` (midnight) or an ISO date and time, in the current time zone."""
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError as error:
            raise IncorrectLookupParameters(f"Not a date: {value!r}") from error
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment

    def window(self) -> tuple[datetime.datetime, datetime.datetime] | None:
        """The chosen period as [start, end), aware, midnights in the current time zone."""
        if self.period == "any":
            return None
        today = timezone.localdate()
        start = {
            "7d": today - datetime.timedelta(days=7),
            "30d": today - datetime.timedelta(days=30),
            "year": today.replace(month=1, day=1),
        }[self.period]
        end = today + datetime.timedelta(days=1)
        zone = timezone.get_current_timezone()
        return (
            datetime.datetime.combine(start, datetime.time.min, tzinfo=zone),
            datetime.datetime.combine(end, datetime.time.min, tzinfo=zone),
        )

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        if self.custom_range:
            bounds = {
                key: self._moment(self._value(key))
                for key in (self.gte, self.lt)
                if self._value(key)
            }
            try:
                return queryset.filter(**bounds)
            except (ValueError, ValidationError) as error:
                raise IncorrectLookupParameters(error) from error
        window = self.window()
        if window is None:
            return queryset
        return queryset.filter(**{self.gte: window[0], self.lt: window[1]})

    def choices(self, changelist):
        for key, label in self.periods.items():
            yield {
                "selected": not self.custom_range and self.period == key,
                "query_string": changelist.get_query_string(
                    {} if key == self.default_period else {self.parameter_name: key},
                    [self.gte, self.lt, self.parameter_name],
                ),
                "display": label,
            }
        if self.custom_range:
            since, until = self._value(self.gte) or "…", self._value(self.lt) or "…"
            yield {
                "selected": True,
                "query_string": changelist.get_query_string(),
                "display": f"From {since} to before {until}",
            }
