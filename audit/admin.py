"""Read-only browsers for the audit log, the seals and the domain events."""

from __future__ import annotations

from typing import Any

import pgtrigger
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Concat, NullIf, Trim
from django.http import HttpRequest

from audit.admin_lists import IndexedValuesFilter, RecentFilter, ScaledListAdmin
from audit.list_filters import ChoiceListFilter
from audit.models import AuditEntry, AuditSeal, DomainEventEntry, JobRun


class ReadOnlyAdmin(ScaledListAdmin):
    """Nobody adds, edits or deletes here; the database would refuse anyway."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class UserFilter(ChoiceListFilter):
    title = "staff member"
    parameter_name = "user"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        users = get_user_model().objects.filter(is_staff=True).order_by("username")
        return [(user.pk, user.get_full_name() or user.get_username()) for user in users]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(user_id=self.value()) if self.value() else queryset


class TableFilter(ChoiceListFilter):
    title = "table"
    parameter_name = "table"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        # Audited tables are the ones carrying the audit triggers (no import of other apps).
        # Link tables (a room's amenities) are audited under their owner's table instead.
        audited = {
            model
            for model, trigger in pgtrigger.registered()
            if trigger.name == "audit_insert" and not model._meta.auto_created
        }
        return sorted(
            (model._meta.db_table, str(model._meta.verbose_name_plural).capitalize())
            for model in audited
        )

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(table_name=self.value()) if self.value() else queryset


class StaffNameMixin:
    """Shows who acted, by name, from one annotated query (no query per row)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        users = get_user_model().objects.filter(pk=OuterRef("user_id"))
        full_name = Concat("first_name", Value(" "), "last_name")
        return (
            super()
            .get_queryset(request)
            .annotate(
                staff_name=Subquery(
                    users.annotate(name=NullIf(Trim(full_name), Value(""))).values("name")[:1]
                ),
                staff_username=Subquery(users.values("username")[:1]),
            )
        )

    @admin.display(description="staff member")
    def who(self, obj: Any) -> str:
        return obj.staff_name or obj.staff_username or obj.source or "system"


@admin.register(AuditEntry)
class AuditEntryAdmin(StaffNameMixin, ReadOnlyAdmin):
    list_display = ("occurred_at", "action", "table_name", "row_id", "who", "ip", "changes")
    list_filter = (("occurred_at", RecentFilter), "action", TableFilter, UserFilter)
    search_fields = ("=row_id", "=request_id", "reason")
    list_per_page = 50
    fields = (
        "occurred_at",
        "action",
        "table_name",
        "row_id",
        "property_id",
        "changed_fields",
        "old",
        "new",
        "user_id",
        "ip",
        "user_agent",
        "session_key",
        "request_id",
        "source",
        "reason",
        "transaction_id",
    )

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # Date ranges beyond the sidebar's presets: ?occurred_at__gte=...&occurred_at__lt=...
        if lookup in {"occurred_at__gte", "occurred_at__lt"}:
            return True
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description="changed")
    def changes(self, obj: AuditEntry) -> str:
        return ", ".join(obj.changed_fields) or "—"


@admin.register(DomainEventEntry)
class DomainEventEntryAdmin(StaffNameMixin, ReadOnlyAdmin):
    list_display = ("occurred_at", "name", "aggregate_type", "aggregate_id", "who", "payload")
    # Names and aggregate types walked through their indexes, not DISTINCT over the events.
    list_filter = (
        ("occurred_at", RecentFilter),
        ("name", IndexedValuesFilter),
        ("aggregate_type", IndexedValuesFilter),
    )
    search_fields = ("=aggregate_id", "=request_id")
    list_per_page = 50


@admin.register(AuditSeal)
class AuditSealAdmin(ReadOnlyAdmin):
    list_display = ("day", "row_count", "seal", "sealed_at")


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ("job", "status", "started_at", "finished_at", "error")
    # The job names walked through audit_job_run_latest; no date hierarchy (its year and
    # month links are a DISTINCT over every run).
    list_filter = (("started_at", RecentFilter), "status", ("job", IndexedValuesFilter))
