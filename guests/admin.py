"""Admin for guests, companies and groups: search in a keystroke, merge, GDPR actions."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.views.main import ORDER_VAR
from django.contrib.admin.widgets import AdminDateWidget, AdminTextInputWidget
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst

from audit.selectors import HistoryItem, row_changes_since
from guests import services
from guests.fields import (
    BlindIndexField,
    EncryptedCharField,
    EncryptedDateField,
    EncryptedTextField,
)
from guests.models import Company, Guest, GuestGroup
from guests.selectors import guest_duplicates, guest_search
from stayos.admin.base import (
    ChoiceListFilter,
    DeletedFilter,
    PropertyScopedAdmin,
    TrackedInline,
    VersionedModelForm,
    restore_selected,
)

# Inlines later apps add to the guest page (reservations, folios), without guests importing
# them: ``register_guest_inline(ReservationInline)`` in their AppConfig.ready().
guest_inlines: list[type[InlineModelAdmin]] = []


def register_guest_inline(inline: type[InlineModelAdmin]) -> type[InlineModelAdmin]:
    if inline not in guest_inlines:
        guest_inlines.append(inline)
    return inline


def _labels(*predicates) -> set[str]:
    # History items name fields by verbose name (audit.selectors.describe).
    return {
        str(field.verbose_name)
        for field in Guest._meta.concrete_fields
        if any(predicate(field) for predicate in predicates)
    }


ENCRYPTED_LABELS = _labels(lambda field: isinstance(field, EncryptedTextField))
HIDDEN_LABELS = _labels(
    lambda field: isinstance(field, BlindIndexField),
    lambda field: field.name.startswith("search_"),
)


def redact(items: list[HistoryItem]) -> list[HistoryItem]:
    """History as staff should read it: encrypted values masked, search columns left out."""
    redacted = []
    for item in items:
        changes = [
            dataclasses.replace(change, old="(encrypted)", new="(encrypted)")
            if change.field in ENCRYPTED_LABELS
            else change
            for change in item.changes
            if change.field not in HIDDEN_LABELS
        ]
        redacted.append(dataclasses.replace(item, changes=changes))
    return redacted


class GuestForm(VersionedModelForm):
    def conflict_message(self, current: Guest, opened: int) -> str:
        message = super().conflict_message(current, opened)
        # The audit images hold ciphertext and search columns: say what changed, not the bytes.
        return message.split(" Their changes: ")[0] + self._changed_since(current, opened)

    def _changed_since(self, current: Guest, opened: int) -> str:
        changes = [
            f"{capfirst(change.field)}: {change.old} → {change.new} ({item.who})"
            for item in redact(row_changes_since(model=Guest, pk=current.pk, version=opened))
            for change in item.changes
        ]
        return f" Their changes: {'; '.join(changes)}." if changes else ""


class PossibleDuplicateFilter(ChoiceListFilter):
    title = "possible duplicates"
    parameter_name = "duplicates"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("yes", "Possible duplicates")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        # Only when chosen: it compares the whole guest table (a self-join through the
        # e-mail and name indexes, at most 500 pairs), the one list page whose cost grows
        # with the guests. Staff open it on purpose, not on every page.
        if self.value() != "yes":
            return queryset
        ids = {guest.pk for pair in guest_duplicates() for guest in (pair.first, pair.second)}
        return queryset.filter(pk__in=ids)


class VipLevelFilter(ChoiceListFilter):
    """VIP levels 0 to 5 (guests_guest_vip_level_range), not a DISTINCT over every guest."""

    title = "VIP level"
    parameter_name = "vip_level"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(str(level), f"VIP {level}" if level else "Not a VIP") for level in range(6)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(vip_level=self.value()) if self.value() else queryset


class ContactForGroupsInline(TrackedInline):
    model = GuestGroup
    fk_name = "contact"
    fields = ("name", "arrival_date", "departure_date", "expected_size")
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    verbose_name_plural = "contact for groups"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.action(
    description="Merge the two selected guests (into the older profile)", permissions=["merge"]
)
def merge_two(modeladmin: GuestAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    guests = list(queryset.order_by("created_at", "pk")[:3])
    if len(guests) != 2:
        modeladmin.message_user(request, "Select exactly two guests to merge.", messages.ERROR)
        return
    target, source = guests
    try:
        result = services.guest_merge(source=source, target=target, actor=request.user)
    except ValidationError as error:
        modeladmin.message_user(request, " ".join(error.messages), messages.ERROR)
        return
    moved = sum(result.moved.values())
    modeladmin.message_user(
        request,
        f"Merged {source.pk} into {result.target}: {moved} record(s) moved"
        + (f", filled {', '.join(result.filled)}" if result.filled else "")
        + ".",
        messages.SUCCESS,
    )


@admin.action(description="Anonymize selected guests (GDPR erasure)", permissions=["anonymize"])
def anonymize_selected(modeladmin: GuestAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    done = 0
    for guest in queryset:
        # One transaction per guest: one refusal does not hold back the others.
        try:
            services.guest_anonymize(guest=guest, actor=request.user)
        except ValidationError as error:
            modeladmin.message_user(request, " ".join(error.messages), messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"Anonymized {done} guest(s).", messages.SUCCESS)


@admin.action(
    description="Export the selected guest's data as JSON (GDPR access)", permissions=["export"]
)
def export_one(modeladmin: GuestAdmin, request: HttpRequest, queryset: QuerySet):
    guests = list(queryset[:2])
    if len(guests) != 1:
        modeladmin.message_user(request, "Select exactly one guest to export.", messages.ERROR)
        return None
    data = services.guest_export(guest=guests[0], actor=request.user)
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        content_type="application/json",
    )
    response["Content-Disposition"] = f'attachment; filename="guest-{guests[0].pk}.json"'
    return response


@admin.register(Guest)
class GuestAdmin(PropertyScopedAdmin):
    form = GuestForm
    list_display = (
        "__str__",
        "kind",
        "vip_level",
        "company",
        "email",
        "phone",
        "property",
        "last_stay_on",
    )
    # No company filter: a sidebar listing every company would grow with them. The company
    # list's guest count links here filtered by company (?company__id__exact=<id>).
    list_filter = (
        "property",
        "kind",
        VipLevelFilter,
        "marketing_consent",
        PossibleDuplicateFilter,
        DeletedFilter,
    )
    list_select_related = ("property", "company")
    list_defer = (
        "date_of_birth",
        "document_number",
        "address",
        "notes",
        "preferences",
        "document_number_index",
        "date_of_birth_index",
        "search_name",
        "search_phone",
        "search_vector",
        "search_typos",
    )
    # Any one field makes the admin show the search box; get_search_results does the work.
    search_fields = ("family_name",)
    search_help_text = (
        "Any part of a name (accents and small typos forgiven), e-mail, phone or company."
    )
    autocomplete_fields = ("company",)
    readonly_fields = ("possible_duplicates", "last_stay_on", "anonymized_at", "merged_into")
    actions = [restore_selected, merge_two, anonymize_selected, export_one]
    inlines = [ContactForGroupsInline]
    formfield_overrides = {
        EncryptedDateField: {"widget": AdminDateWidget},
        EncryptedCharField: {"widget": AdminTextInputWidget},
    }
    fieldsets = [
        (None, {"fields": ("property", "kind", "vip_level", "company")}),
        (
            "Name and contact",
            {"fields": ("title", "given_name", "family_name", "email", "phone", "language")},
        ),
        (
            "Identity (encrypted at rest)",
            {"fields": ("nationality", "date_of_birth", "document_type", "document_number")},
        ),
        ("Address", {"fields": ("address", "city", "country")}),
        ("Preferences", {"fields": ("marketing_consent", "preferences", "notes")}),
        (
            "Profile",
            {"fields": ("possible_duplicates", "last_stay_on", "merged_into", "anonymized_at")},
        ),
    ]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        # Closest names first (list and autocomplete), unless staff sort the list by a column.
        ranked = not request.GET.get(ORDER_VAR)
        return guest_search(query=search_term, queryset=queryset, ranked=ranked), False

    def get_inlines(self, request: HttpRequest, obj: Any) -> list:
        return [*super().get_inlines(request, obj), *guest_inlines]

    def has_anonymize_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("guests.anonymize_guest")

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("guests.export_guest")

    def has_merge_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("guests.merge_guest")

    @admin.display(description="possible duplicates")
    def possible_duplicates(self, obj: Guest) -> str:
        if obj.pk is None or obj._state.adding:
            return "—"
        pairs = guest_duplicates(guest=obj)
        if not pairs:
            return "None found."
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> ({})',
            (
                (
                    reverse("admin:guests_guest_change", args=[other.pk]),
                    other,
                    ", ".join(pair.reasons),
                )
                for pair in pairs
                for other in [pair.second if pair.first.pk == obj.pk else pair.first]
            ),
        )

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        response = super().history_view(request, object_id, extra_context)
        # Still unrendered (TemplateResponse): mask ciphertext before it reaches the page.
        if getattr(response, "context_data", None) and "items" in response.context_data:
            response.context_data["items"] = redact(response.context_data["items"])
        return response


@admin.register(Company)
class CompanyAdmin(PropertyScopedAdmin):
    list_display = (
        "name",
        "vat_number",
        "property",
        "city",
        "country",
        "negotiated_rate_plan",
        "credit_limit",
        "guest_count",
    )
    list_filter = ("property", "country", DeletedFilter)
    list_select_related = ("property", "negotiated_rate_plan")
    search_fields = ("name", "vat_number", "email")
    autocomplete_fields = ("negotiated_rate_plan",)
    fieldsets = [
        (None, {"fields": ("property", "name", "vat_number")}),
        ("Billing", {"fields": ("email", "phone", "street", "postal_code", "city", "country")}),
        ("Terms", {"fields": ("negotiated_rate_plan", "credit_limit", "notes")}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # A count per company shown (a subquery on guests_guest.company_id), not a join
        # grouping every guest of the group on every page.
        guests = Guest.objects.filter(company=OuterRef("pk")).values("company")
        count = Subquery(guests.annotate(count=Count("*")).values("count"))
        return super().get_queryset(request).annotate(guest_count=Coalesce(count, 0))

    @admin.display(description="guests", ordering="guest_count")
    def guest_count(self, obj: Company) -> str:
        url = reverse("admin:guests_guest_changelist") + f"?company__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.guest_count)


@admin.register(GuestGroup)
class GuestGroupAdmin(PropertyScopedAdmin):
    list_display = (
        "name",
        "property",
        "arrival_date",
        "departure_date",
        "expected_size",
        "contact",
        "company",
    )
    # No date hierarchy: its year and month links are a DISTINCT over every group.
    list_filter = ("property", "arrival_date", DeletedFilter)
    list_select_related = ("property", "contact", "company")
    search_fields = ("name",)
    autocomplete_fields = ("contact", "company")
    fieldsets = [
        (None, {"fields": ("property", "name", "contact", "company")}),
        ("Stay", {"fields": ("arrival_date", "departure_date", "expected_size", "notes")}),
    ]
