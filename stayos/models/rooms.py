"""Room types, rooms and their amenities."""

from __future__ import annotations

from django import forms
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from audit.events import event_on_change
from stayos.models.base import PropertyScopedModel
from stayos.models.property import NAME_COLLATION
from stayos.triggers import same_property


class ChoiceArrayField(ArrayField):
    """An array of choices, edited as a set of checkboxes in the admin."""

    def formfield(self, **kwargs):
        defaults = {
            "form_class": forms.TypedMultipleChoiceField,
            "choices": self.base_field.choices,
            "coerce": self.base_field.to_python,
            "widget": forms.CheckboxSelectMultiple,
        }
        defaults.update(kwargs)
        # Skip ArrayField.formfield, which would build a comma-separated text input.
        return super(ArrayField, self).formfield(**defaults)


class HousekeepingStatus(models.TextChoices):
    CLEAN = "clean", "Clean"
    DIRTY = "dirty", "Dirty"
    INSPECTED = "inspected", "Inspected"
    OUT_OF_ORDER = "out_of_order", "Out of order"
    OUT_OF_SERVICE = "out_of_service", "Out of service"


class Accessibility(models.TextChoices):
    WHEELCHAIR = "wheelchair", "Wheelchair accessible"
    ROLL_IN_SHOWER = "roll_in_shower", "Roll-in shower"
    GRAB_BARS = "grab_bars", "Grab bars"
    HEARING = "hearing", "Hearing-impaired kit"
    VISUAL = "visual", "Braille / tactile signage"
    STEP_FREE = "step_free", "Step-free access"


class Amenity(PropertyScopedModel):
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=100, db_collation=NAME_COLLATION)

    class Meta(PropertyScopedModel.Meta):
        verbose_name_plural = "amenities"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["property", "code"],
                condition=Q(deleted_at__isnull=True),
                name="stayos_amenity_code_unique_per_property",
                violation_error_message="This property already has an amenity with this code.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RoomType(PropertyScopedModel):
    code = models.CharField(max_length=10, help_text="e.g. DBL, KNG, STE.")
    name = models.CharField(max_length=100, db_collation=NAME_COLLATION)
    capacity = models.PositiveSmallIntegerField(help_text="Most guests the room sleeps.")
    base_occupancy = models.PositiveSmallIntegerField(
        default=2, help_text="Guests included in the base rate."
    )
    amenities = models.ManyToManyField(Amenity, blank=True, related_name="+")
    description = models.TextField(blank=True)

    class Meta(PropertyScopedModel.Meta):
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["property", "code"],
                condition=Q(deleted_at__isnull=True),
                name="stayos_roomtype_code_unique_per_property",
                violation_error_message="This property already has a room type with this code.",
            ),
            models.CheckConstraint(
                condition=Q(capacity__gte=1),
                name="stayos_roomtype_capacity_positive",
                violation_error_message="Capacity must be at least 1.",
            ),
            models.CheckConstraint(
                condition=Q(base_occupancy__gte=1, base_occupancy__lte=F("capacity")),
                name="stayos_roomtype_base_occupancy_within_capacity",
                violation_error_message="Base occupancy must be between 1 and the capacity.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class Room(PropertyScopedModel):
    HousekeepingStatus = HousekeepingStatus
    Accessibility = Accessibility

    room_type = models.ForeignKey(RoomType, on_delete=models.PROTECT, related_name="rooms")
    number = models.CharField(max_length=10)
    floor = models.SmallIntegerField()
    housekeeping_status = models.CharField(
        max_length=20,
        choices=HousekeepingStatus.choices,
        default=HousekeepingStatus.CLEAN,
    )
    accessibility = ChoiceArrayField(
        models.CharField(max_length=20, choices=Accessibility.choices),
        default=list,
        blank=True,
        verbose_name="accessibility features",
    )
    amenities = models.ManyToManyField(Amenity, blank=True, related_name="+")
    notes = models.TextField(blank=True)

    class Meta(PropertyScopedModel.Meta):
        ordering = ["number"]
        triggers = [
            same_property("room_type"),
            # Housekeeping boards and integrations follow this event; the database writes it
            # so that the change form, the bulk actions and raw SQL all record it, once each.
            event_on_change(
                name="status_changed_event",
                event="room.status_changed",
                field="housekeeping_status",
                payload={
                    "number": "NEW.number",
                    "from": "OLD.housekeeping_status",
                    "to": "NEW.housekeeping_status",
                },
            ),
        ]
        # Housekeeping marks rooms clean, dirty or inspected without editing anything else.
        permissions = [
            ("change_room_housekeeping_status", "Can mark rooms clean, dirty or inspected")
        ]
        constraints = [
            # Served also as the index behind the rooms list, which filters by property.
            models.UniqueConstraint(
                fields=["property", "number"],
                condition=Q(deleted_at__isnull=True),
                name="stayos_room_number_unique_per_property",
                violation_error_message="This property already has a room with this number.",
            ),
            models.CheckConstraint(
                condition=Q(housekeeping_status__in=HousekeepingStatus.values),
                name="stayos_room_housekeeping_status_valid",
                violation_error_message="Unknown housekeeping status.",
            ),
            models.CheckConstraint(
                condition=Q(accessibility__contained_by=Accessibility.values),
                name="stayos_room_accessibility_valid",
                violation_error_message="Unknown accessibility feature.",
            ),
            models.CheckConstraint(
                condition=Q(number__regex=r"^[A-Za-z0-9-]+$"),
                name="stayos_room_number_format",
                violation_error_message="Room number may hold letters, digits and dashes only.",
            ),
        ]
        indexes = [
            # The housekeeping board: rooms of a property by status.
            models.Index(
                fields=["property", "housekeeping_status"],
                condition=Q(deleted_at__isnull=True),
                name="stayos_room_status_board",
            ),
            # The room list's floor filter walks the floors through it (IndexedValuesFilter).
            models.Index(fields=["floor"], name="stayos_room_floor"),
        ]

    def __str__(self) -> str:
        # Both hotels have a 101: say which one. Pages listing rooms select_related("property").
        return f"{self.property.code} · {self.number}"

    def clean(self) -> None:
        # The database refuses it too (same_property trigger); this gives the form a message.
        if (
            self.room_type_id
            and self.property_id
            and self.room_type.property_id != self.property_id
        ):
            raise ValidationError({"room_type": "Choose a room type of this room's property."})
