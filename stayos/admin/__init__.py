"""Admin for the hotel setup: properties, room types, rooms, amenities, rate plans."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from stayos import services
from stayos.admin import periodic_tasks  # noqa: F401  (re-registers the beat schedule's admin)
from stayos.admin.base import (
    ChoiceListFilter,
    DeletedFilter,
    IndexedValuesFilter,
    PropertyScopedAdmin,
    TrackedAdmin,
    TrackedInline,
    VersionedModelForm,
)
from stayos.models import Amenity, Property, RatePlan, RatePlanSeason, Room, RoomType

__all__ = ["PropertyScopedAdmin", "TrackedAdmin", "TrackedInline", "VersionedModelForm"]


def _live_count(model: type, field: str) -> Coalesce:
    """Live ``model`` rows pointing at each listed row through ``field``, one subquery per row."""
    rows = model.objects.filter(**{field: OuterRef("pk")}).values(field)
    return Coalesce(Subquery(rows.annotate(count=Count("*")).values("count")), 0)


@admin.register(Property)
class PropertyAdmin(TrackedAdmin):
    list_display = ("code", "name", "city", "country", "currency", "business_date", "room_count")
    search_fields = ("code", "name", "city")
    fieldsets = [
        (None, {"fields": ("code", "name", "time_zone", "currency", "business_date")}),
        ("Address", {"fields": ("street", "postal_code", "city", "country", "phone", "email")}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                room_count=Coalesce(
                    Subquery(
                        Room.objects.filter(property=OuterRef("pk"))
                        .values("property")
                        .annotate(count=Count("*"))
                        .values("count")
                    ),
                    0,
                )
            )
        )

    @admin.display(description="rooms", ordering="room_count")
    def room_count(self, obj: Property) -> int:
        return obj.room_count


@admin.register(Amenity)
class AmenityAdmin(PropertyScopedAdmin):
    list_display = ("name", "code", "property")
    search_fields = ("name", "code")
    prepopulated_fields = {"code": ("name",)}


class RoomInline(TrackedInline):
    model = Room
    fields = ("number", "floor", "housekeeping_status", "property")
    show_change_link = True
    # Editing rooms happens on the room page, where optimistic locking guards each save.
    readonly_fields = ("number", "floor", "housekeeping_status", "property")
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("property")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(RoomType)
class RoomTypeAdmin(PropertyScopedAdmin):
    list_display = ("code", "name", "property", "capacity", "base_occupancy", "room_count")
    search_fields = ("code", "name")
    filter_horizontal = ("amenities",)
    inlines = [RoomInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # A count per row shown (a subquery), not a join grouping every room of the group.
        return super().get_queryset(request).annotate(room_count=_live_count(Room, "room_type"))

    @admin.display(description="rooms", ordering="room_count")
    def room_count(self, obj: RoomType) -> int:
        return obj.room_count


class AccessibilityFilter(ChoiceListFilter):
    title = "accessibility"
    parameter_name = "accessibility"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("any", "Any accessibility feature"), *Room.Accessibility.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "any":
            return queryset.exclude(accessibility=[])
        if self.value():
            return queryset.filter(accessibility__contains=[self.value()])
        return queryset


def _set_status_action(status: Room.HousekeepingStatus):
    @admin.action(
        description=f"Mark selected rooms {status.label.lower()}",
        permissions=["housekeeping_status"],
    )
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        changed = services.room_set_housekeeping_status(
            rooms=queryset, status=status, actor=request.user
        )
        modeladmin.message_user(
            request, f"{changed} room(s) marked {status.label.lower()}.", messages.SUCCESS
        )

    action.__name__ = f"mark_{status.value}"
    return action


@admin.register(Room)
class RoomAdmin(PropertyScopedAdmin):
    list_display = (
        "number",
        "property",
        "room_type",
        "floor",
        "housekeeping_status",
        "accessibility_summary",
    )
    list_filter = (
        "property",
        "housekeeping_status",
        "room_type",
        # The floors walked through stayos_room_floor, not a DISTINCT over every room.
        ("floor", IndexedValuesFilter),
        AccessibilityFilter,
        DeletedFilter,
    )
    list_select_related = ("property", "room_type")
    search_fields = ("number", "notes", "room_type__name")
    autocomplete_fields = ("room_type",)
    filter_horizontal = ("amenities",)
    actions = [
        *PropertyScopedAdmin.actions,
        _set_status_action(Room.HousekeepingStatus.CLEAN),
        _set_status_action(Room.HousekeepingStatus.DIRTY),
        _set_status_action(Room.HousekeepingStatus.INSPECTED),
    ]
    fieldsets = [
        (None, {"fields": ("property", "room_type", "number", "floor", "housekeeping_status")}),
        ("Features", {"fields": ("accessibility", "amenities", "notes")}),
    ]

    def has_housekeeping_status_permission(self, request: HttpRequest) -> bool:
        # Housekeeping and the front desk mark rooms without the right to edit the room.
        return request.user.has_perm(
            "stayos.change_room_housekeeping_status"
        ) or self.has_change_permission(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # A room's name carries its hotel's code: pages and pickers naming rooms (history,
        # delete confirmation, autocomplete) read it in the same query. The changelist skips
        # list_select_related once a select_related is set, so this one names both.
        return super().get_queryset(request).select_related(*self.list_select_related)

    @admin.display(description="accessibility")
    def accessibility_summary(self, obj: Room) -> str:
        labels = dict(Room.Accessibility.choices)
        return ", ".join(labels.get(feature, feature) for feature in obj.accessibility) or "—"


class RatePlanSeasonInline(TrackedInline):
    model = RatePlanSeason
    fields = ("name", "start_date", "end_date", "multiplier")


@admin.register(RatePlan)
class RatePlanAdmin(PropertyScopedAdmin):
    list_display = (
        "code",
        "name",
        "property",
        "base_rate",
        "valid_from",
        "valid_to",
        "min_stay",
        "refundable",
    )
    list_filter = ("property", "refundable", DeletedFilter)
    search_fields = ("code", "name")
    filter_horizontal = ("room_types",)
    inlines = [RatePlanSeasonInline]
    fieldsets = [
        (None, {"fields": ("property", "code", "name", "room_types")}),
        ("Price", {"fields": ("base_rate", "weekend_days", "weekend_multiplier")}),
        ("Validity", {"fields": ("valid_from", "valid_to")}),
        (
            "Conditions",
            {
                "fields": (
                    "min_stay",
                    "max_stay",
                    "closed_to_arrival",
                    "closed_to_departure",
                    "advance_purchase_days",
                )
            },
        ),
        ("Cancellation", {"fields": ("refundable", "cancellation_deadline_hours")}),
    ]
