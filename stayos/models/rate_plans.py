"""Rate plans: what a night costs, when, and on which conditions."""

from __future__ import annotations

from decimal import Decimal

import pgtrigger
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.db import models
from django.db.models import F, Func, Q

from stayos.models.base import PropertyScopedModel
from stayos.models.property import NAME_COLLATION
from stayos.models.rooms import ChoiceArrayField, RoomType
from stayos.refusals import register_refusal
from stayos.triggers import same_property


class Weekday(models.IntegerChoices):
    """Python's numbering (date.weekday()): Monday is 0."""

    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


ALL_WEEKDAYS = [day.value for day in Weekday]


def default_weekend() -> list[int]:
    return [Weekday.FRIDAY.value, Weekday.SATURDAY.value]


def weekday_array(**kwargs) -> ChoiceArrayField:
    return ChoiceArrayField(
        models.SmallIntegerField(choices=Weekday.choices), blank=True, **kwargs
    )


class DateRange(Func):
    """daterange(start, end, '[]'): both ends inclusive."""

    function = "daterange"
    template = "%(function)s(%(expressions)s, '[]')"


# A plan's seasons lie within its validity, kept from both sides: the plan's dates cannot move
# past a live season, and a season cannot be put (or restored) outside its plan's dates.
VALIDITY_COVERS_SEASONS = pgtrigger.Trigger(
    name="validity_covers_seasons",
    when=pgtrigger.Before,
    operation=pgtrigger.UpdateOf("valid_from", "valid_to"),
    func="""
        IF EXISTS (
            SELECT FROM stayos_rateplanseason
            WHERE rate_plan_id = NEW.id AND deleted_at IS NULL AND start_date < NEW.valid_from
        ) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'check_violation',
                CONSTRAINT = 'stayos_rateplan_valid_from_covers_seasons',
                MESSAGE = 'a season of the plan starts before its new valid_from';
        END IF;
        IF NEW.valid_to IS NOT NULL AND EXISTS (
            SELECT FROM stayos_rateplanseason
            WHERE rate_plan_id = NEW.id AND deleted_at IS NULL AND end_date > NEW.valid_to
        ) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'check_violation',
                CONSTRAINT = 'stayos_rateplan_valid_to_covers_seasons',
                MESSAGE = 'a season of the plan ends after its new valid_to';
        END IF;
        RETURN NEW;
    """,
)
SEASON_WITHIN_VALIDITY = pgtrigger.Trigger(
    name="season_within_validity",
    when=pgtrigger.Before,
    operation=pgtrigger.Insert
    | pgtrigger.UpdateOf("rate_plan_id", "start_date", "end_date", "deleted_at"),
    declare=[("plan_from", "date"), ("plan_to", "date")],
    func="""
        IF NEW.deleted_at IS NOT NULL THEN
            RETURN NEW;
        END IF;
        -- FOR SHARE waits for a concurrent change of the plan's dates and reads its outcome,
        -- so a season and a shrinking validity cannot both slip past each other's check.
        SELECT valid_from, valid_to INTO plan_from, plan_to
        FROM stayos_rateplan WHERE id = NEW.rate_plan_id FOR SHARE;
        IF NEW.start_date < plan_from OR NEW.end_date > plan_to THEN
            RAISE EXCEPTION USING
                ERRCODE = 'check_violation',
                CONSTRAINT = 'stayos_rateplanseason_within_validity',
                MESSAGE = 'a season lies outside its rate plan''s validity';
        END IF;
        RETURN NEW;
    """,
)
register_refusal(
    "stayos_rateplan_valid_from_covers_seasons",
    field="valid_from",
    message="A season of this plan starts before this date: move or delete it first.",
)
register_refusal(
    "stayos_rateplan_valid_to_covers_seasons",
    field="valid_to",
    message="A season of this plan ends after this date: move or delete it first.",
)
register_refusal(
    "stayos_rateplanseason_within_validity",
    field="start_date",
    message="The season must lie within the rate plan's validity.",
)


class RatePlan(PropertyScopedModel):
    code = models.CharField(max_length=20, help_text="e.g. BAR, NRF, CORP-ACME.")
    name = models.CharField(max_length=100, db_collation=NAME_COLLATION)
    room_types = models.ManyToManyField(RoomType, related_name="rate_plans")
    base_rate = models.DecimalField(
        max_digits=10, decimal_places=2, help_text="Nightly rate before multipliers."
    )
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True, help_text="Last night sold; empty: open.")
    weekend_days = weekday_array(
        default=default_weekend,
        help_text="Nights priced with the weekend multiplier.",
    )
    weekend_multiplier = models.DecimalField(max_digits=5, decimal_places=3, default=Decimal("1"))
    min_stay = models.PositiveSmallIntegerField(default=1, help_text="Nights.")
    max_stay = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Nights.")
    closed_to_arrival = weekday_array(default=list, help_text="No arrivals on these weekdays.")
    closed_to_departure = weekday_array(default=list, help_text="No departures on these weekdays.")
    advance_purchase_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Book at least this many days before arrival."
    )
    refundable = models.BooleanField(default=True)
    cancellation_deadline_hours = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Free cancellation until this many hours before arrival (refundable plans).",
    )

    class Meta(PropertyScopedModel.Meta):
        ordering = ["code"]
        triggers = [VALIDITY_COVERS_SEASONS]
        constraints = [
            models.UniqueConstraint(
                fields=["property", "code"],
                condition=Q(deleted_at__isnull=True),
                name="stayos_rateplan_code_unique_per_property",
                violation_error_message="This property already has a rate plan with this code.",
            ),
            models.CheckConstraint(
                condition=Q(base_rate__gt=0),
                name="stayos_rateplan_base_rate_positive",
                violation_error_message="The base rate must be greater than zero.",
            ),
            models.CheckConstraint(
                condition=Q(weekend_multiplier__gt=0),
                name="stayos_rateplan_weekend_multiplier_positive",
                violation_error_message="The weekend multiplier must be greater than zero.",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="stayos_rateplan_validity_ordered",
                violation_error_message="“Valid to” cannot be before “valid from”.",
            ),
            models.CheckConstraint(
                condition=Q(min_stay__gte=1)
                & (Q(max_stay__isnull=True) | Q(max_stay__gte=F("min_stay"))),
                name="stayos_rateplan_stay_bounds",
                violation_error_message="Minimum stay must be at least 1 and not above maximum.",
            ),
            models.CheckConstraint(
                condition=Q(weekend_days__contained_by=ALL_WEEKDAYS)
                & Q(closed_to_arrival__contained_by=ALL_WEEKDAYS)
                & Q(closed_to_departure__contained_by=ALL_WEEKDAYS),
                name="stayos_rateplan_weekdays_valid",
                violation_error_message="Weekdays run from 0 (Monday) to 6 (Sunday).",
            ),
            models.CheckConstraint(
                condition=Q(refundable=True) | Q(cancellation_deadline_hours__isnull=True),
                name="stayos_rateplan_nonrefundable_has_no_deadline",
                violation_error_message="A non-refundable plan has no cancellation deadline.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class RatePlanSeason(PropertyScopedModel):
    """A date range in which a rate plan's nights cost ``multiplier`` times the base."""

    rate_plan = models.ForeignKey(RatePlan, on_delete=models.CASCADE, related_name="seasons")
    name = models.CharField(max_length=60, help_text="e.g. Summer, Christmas.")
    start_date = models.DateField()
    end_date = models.DateField(help_text="Last night of the season (inclusive).")
    multiplier = models.DecimalField(max_digits=5, decimal_places=3)

    class Meta(PropertyScopedModel.Meta):
        ordering = ["start_date"]
        triggers = [same_property("rate_plan"), SEASON_WITHIN_VALIDITY]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")),
                name="stayos_rateplanseason_dates_ordered",
                violation_error_message="A season cannot end before it starts.",
            ),
            models.CheckConstraint(
                condition=Q(multiplier__gt=0),
                name="stayos_rateplanseason_multiplier_positive",
                violation_error_message="The season multiplier must be greater than zero.",
            ),
            # A night belongs to at most one season of a plan, so its price is unambiguous.
            ExclusionConstraint(
                name="stayos_rateplanseason_no_overlap",
                expressions=[
                    ("rate_plan", RangeOperators.EQUAL),
                    (DateRange("start_date", "end_date"), RangeOperators.OVERLAPS),
                ],
                condition=Q(deleted_at__isnull=True),
                violation_error_message="This season overlaps another season of the plan.",
            ),
        ]

    def clean(self) -> None:
        if self.rate_plan_id and self.property_id is None:
            self.property_id = self.rate_plan.property_id

    def __str__(self) -> str:
        return f"{self.name} ({self.start_date:%d %b} – {self.end_date:%d %b %Y})"
