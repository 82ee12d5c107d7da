"""The property: one hotel of the group, and the tenant every other row belongs to."""

from __future__ import annotations

import datetime
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from stayos.models.base import TrackedModel

# Names staff see in lists and pickers sort as people expect, whatever the cluster's locale:
# ICU's root collation puts Bähr beside Bahr and Åberg among the A's (C.UTF-8 sorts accented
# letters after Z). It is deterministic, so equality and unique constraints are unchanged.
NAME_COLLATION = "und-x-icu"


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (e.g. Europe/Lisbon).")


class Property(TrackedModel):
    code = models.CharField(
        max_length=10, help_text="Short upper-case code used on reports, e.g. LIS1."
    )
    name = models.CharField(max_length=200, db_collation=NAME_COLLATION)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    currency = models.CharField(
        max_length=3, help_text="ISO 4217 code; one currency per property, e.g. EUR."
    )
    business_date = models.DateField(
        help_text="The hotel's current business day; night audit moves it forward."
    )
    street = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2, e.g. PT.")
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)

    class Meta(TrackedModel.Meta):
        verbose_name_plural = "properties"
        ordering = ["code"]
        # The monitoring endpoints (stayos.monitoring) belong to no model; the kernel's root
        # model carries their permission.
        permissions = [("view_monitoring", "Can view the monitoring endpoints")]
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(deleted_at__isnull=True),
                name="stayos_property_code_unique",
                violation_error_message="Another property already uses this code.",
            ),
            models.CheckConstraint(
                condition=Q(code__regex=r"^[A-Z0-9]{2,10}$"),
                name="stayos_property_code_format",
                violation_error_message="Code must be 2–10 upper-case letters or digits.",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"),
                name="stayos_property_currency_iso",
                violation_error_message="Currency must be a three-letter ISO 4217 code.",
            ),
            models.CheckConstraint(
                condition=Q(country="") | Q(country__regex=r"^[A-Z]{2}$"),
                name="stayos_property_country_iso",
                violation_error_message="Country must be a two-letter ISO 3166 code.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    @property
    def tzinfo(self) -> datetime.tzinfo:
        return zoneinfo.ZoneInfo(self.time_zone)
