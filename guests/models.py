"""Guest profiles, corporate accounts and travelling groups.

Personal data that would hurt if leaked (ID document number, date of birth, street address,
staff notes) is encrypted in the application (``guests.pii``); PostgreSQL holds ciphertext
plus keyed hashes for exact look-ups. Names, e-mail and phone stay plaintext: staff must
find a guest by them in a keystroke, which needs the database to index them.
"""

from __future__ import annotations

from typing import Any

import pgtrigger
from django.conf import global_settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Func, Q, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact, Regex
from django.utils import timezone
from django_countries.fields import CountryField

from guests.fields import (
    BlindIndexField,
    EncryptedCharField,
    EncryptedDateField,
    EncryptedTextField,
    LowercaseEmailField,
    PhoneNumberField,
)
from stayos.models import NAME_COLLATION, PropertyScopedModel
from stayos.triggers import same_property

# Preferred language: Django's list of languages, base codes only ("pt", not "pt-br").
LANGUAGES = sorted(
    ((code, name) for code, name in global_settings.LANGUAGES if "-" not in code),
    key=lambda item: item[1],
)

ISO_COUNTRY = r"^[A-Z]{2}$"
EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
E164 = r"^\+[1-9][0-9]{6,14}$"


def validate_not_in_future(value: Any) -> None:
    # Not a CHECK constraint: the column holds ciphertext the database cannot compare, and
    # "not after today" depends on now(), which a CHECK may not (it must be immutable).
    if value is not None and value > timezone.localdate():
        raise ValidationError("A date of birth cannot be in the future.", code="future")


def validate_plausible_birth(value: Any) -> None:
    if value is not None and value.year < 1900:
        raise ValidationError("A date of birth before 1900 is not plausible.", code="too_old")


def _iso_country(column: str) -> Regex:
    # Built as a lookup object: django-countries reads `country__regex` as a regex over
    # country *names*, which would leave the CHECK constraint empty.
    return Regex(F(column), ISO_COUNTRY)


def _search_text(*columns: str) -> str:
    """SQL: the accent- and case-free words of some columns (guests_search_text())."""
    joined = ", ".join(f"NEW.{column}" for column in columns)
    return f"coalesce(guests_search_text(concat_ws(' ', {joined})), '')"


# The search columns belong to this trigger whatever path wrote the row (ORM, bulk, raw SQL):
# names for the trigram index, phone digits for infix look-ups, and a tsvector of every word
# staff might type (names, e-mail parts, phone digits) for prefix look-ups.
GUEST_SEARCH = pgtrigger.Trigger(
    name="maintain_search",
    when=pgtrigger.Before,
    operation=pgtrigger.Insert | pgtrigger.Update,
    func=f"""
        NEW.search_name := {_search_text("given_name", "family_name")};
        NEW.search_phone := regexp_replace(coalesce(NEW.phone, ''), '[^0-9]', '', 'g');
        NEW.search_vector := to_tsvector(
            'simple', {_search_text("given_name", "family_name", "email", "search_phone")}
        );
        RETURN NEW;
    """,
)


class TypoKeys(Func):
    """guests_typo_keys(): each word of 4+ letters, and each with one letter deleted (see
    migration 0005). Two words one typo apart (a letter swapped, wrong, missing or extra)
    share a key, so an array overlap (&&) on a GIN index finds them."""

    function = "guests_typo_keys"
    output_field = ArrayField(models.TextField())


COMPANY_SEARCH = pgtrigger.Trigger(
    name="maintain_search",
    when=pgtrigger.Before,
    operation=pgtrigger.Insert | pgtrigger.Update,
    func=f"NEW.search_name := {_search_text('name')}; RETURN NEW;",
)


class Company(PropertyScopedModel):
    """A corporate account: who pays, at which negotiated rate, up to which credit."""

    name = models.CharField(max_length=200, db_collation=NAME_COLLATION)
    vat_number = models.CharField(
        "VAT / tax id", max_length=30, blank=True, help_text="As printed on invoices."
    )
    email = LowercaseEmailField("billing e-mail", blank=True)
    phone = PhoneNumberField(blank=True)
    street = models.CharField("billing street", max_length=200, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = CountryField(blank=True)
    negotiated_rate_plan = models.ForeignKey(
        "stayos.RatePlan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The rate plan its staff book at.",
    )
    credit_limit = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0)],
        help_text="Most the company may owe on its city-ledger folio (property currency).",
    )
    notes = models.TextField(blank=True)
    search_name = models.TextField(editable=False, default="")

    class Meta(PropertyScopedModel.Meta):
        verbose_name_plural = "companies"
        ordering = ["name"]
        triggers = [COMPANY_SEARCH, same_property("negotiated_rate_plan")]
        constraints = [
            models.UniqueConstraint(
                fields=["property", "name"],
                condition=Q(deleted_at__isnull=True),
                name="guests_company_name_unique_per_property",
                violation_error_message="This property already has a company with this name.",
            ),
            models.UniqueConstraint(
                fields=["property", "vat_number"],
                condition=Q(deleted_at__isnull=True) & ~Q(vat_number=""),
                name="guests_company_vat_unique_per_property",
                violation_error_message="This property already has a company with this VAT id.",
            ),
            models.CheckConstraint(
                condition=Q(credit_limit__gte=0),
                name="guests_company_credit_limit_not_negative",
                violation_error_message="The credit limit cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(country="") | Q(_iso_country("country")),
                name="guests_company_country_iso",
                violation_error_message="Country must be a two-letter ISO 3166 code.",
            ),
        ]
        indexes = [
            # Admin search for guests by their company's name (any part of it).
            GinIndex(
                fields=["search_name"],
                opclasses=["gin_trgm_ops"],
                name="guests_company_trgm",
                fastupdate=False,
            ),
        ]

    def __str__(self) -> str:
        return self.name


class GuestKind(models.TextChoices):
    INDIVIDUAL = "individual", "Individual"
    CORPORATE = "corporate", "Corporate"
    VIP = "vip", "VIP"
    GROUP_CONTACT = "group_contact", "Group contact"


class GuestTitle(models.TextChoices):
    MR = "mr", "Mr"
    MS = "ms", "Ms"
    MRS = "mrs", "Mrs"
    MX = "mx", "Mx"
    DR = "dr", "Dr"
    PROF = "prof", "Prof."


class DocumentType(models.TextChoices):
    PASSPORT = "passport", "Passport"
    NATIONAL_ID = "national_id", "National ID card"
    DRIVING_LICENCE = "driving_licence", "Driving licence"
    RESIDENCE_PERMIT = "residence_permit", "Residence permit"
    OTHER = "other", "Other"


class Guest(PropertyScopedModel):
    """A guest's profile at one property."""

    # Personal data stays out of the append-only audit log (it records that these changed,
    # not the values), so anonymizing a guest erases it everywhere.
    audit_redacted_fields = (
        "given_name",
        "family_name",
        "email",
        "phone",
        "date_of_birth",
        "document_number",
        "address",
        "city",
        "notes",
        "preferences",
        "document_number_index",
        "date_of_birth_index",
        "search_name",
        "search_phone",
        "search_vector",
        "search_typos",
    )

    Kind = GuestKind
    Title = GuestTitle
    DocumentType = DocumentType

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.INDIVIDUAL)
    title = models.CharField(max_length=10, choices=Title.choices, blank=True)
    given_name = models.CharField(max_length=100, blank=True, db_collation=NAME_COLLATION)
    family_name = models.CharField(max_length=100, db_collation=NAME_COLLATION)
    email = LowercaseEmailField("e-mail", blank=True)
    phone = PhoneNumberField(blank=True, help_text="International format, e.g. +351 912 345 678.")
    nationality = CountryField(blank=True)
    language = models.CharField("preferred language", max_length=3, choices=LANGUAGES, blank=True)
    date_of_birth = EncryptedDateField(
        validators=[validate_not_in_future, validate_plausible_birth],
        help_text="Encrypted at rest.",
    )
    document_type = models.CharField(
        "ID document type", max_length=20, choices=DocumentType.choices, blank=True
    )
    document_number = EncryptedCharField(
        "ID document number", max_length=40, help_text="Encrypted at rest."
    )
    address = EncryptedTextField(
        "street address", help_text="Street, number, postal code. Encrypted at rest."
    )
    city = models.CharField(max_length=100, blank=True)
    country = CountryField("country of residence", blank=True)
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.PROTECT, related_name="guests"
    )
    marketing_consent = models.BooleanField(
        default=False, help_text="The guest agreed to receive offers and news."
    )
    preferences = models.JSONField(
        default=dict, blank=True, help_text='e.g. {"pillow": "firm", "floor": "high"}.'
    )
    notes = EncryptedTextField(help_text="Staff notes (allergies, requests). Encrypted at rest.")
    vip_level = models.PositiveSmallIntegerField(
        "VIP level",
        default=0,
        validators=[MaxValueValidator(5)],
        help_text="0: not a VIP; 1–5 as the property's VIP programme defines them.",
    )
    # Kept up to date by the reservations app at check-out; cheap to list and sort by.
    last_stay_on = models.DateField(null=True, blank=True, editable=False)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, editable=False, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    anonymized_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Blind indexes (keyed hashes) of encrypted fields: exact look-up and duplicate checks.
    document_number_index = BlindIndexField(source="document_number")
    date_of_birth_index = BlindIndexField(source="date_of_birth")
    # Written by the maintain_search trigger.
    search_name = models.TextField(editable=False, default="")
    search_phone = models.TextField(editable=False, default="")
    search_vector = SearchVectorField(null=True, editable=False)
    # Computed by PostgreSQL from search_name after the trigger has set it (generated columns
    # follow BEFORE triggers), so no path can leave it stale.
    search_typos = models.GeneratedField(
        expression=TypoKeys("search_name"),
        output_field=ArrayField(models.TextField()),
        db_persist=True,
    )

    class Meta(PropertyScopedModel.Meta):
        ordering = ["family_name", "given_name"]
        triggers = [GUEST_SEARCH, same_property("company"), same_property("merged_into")]
        permissions = [
            ("anonymize_guest", "Can anonymize guests (GDPR erasure)"),
            ("export_guest", "Can export a guest's personal data (GDPR access)"),
            ("merge_guest", "Can merge duplicate guests"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=GuestKind.values),
                name="guests_guest_kind_valid",
                violation_error_message="Unknown kind of guest.",
            ),
            models.CheckConstraint(
                condition=Q(vip_level__gte=0, vip_level__lte=5),
                name="guests_guest_vip_level_range",
                violation_error_message="VIP level goes from 0 to 5.",
            ),
            models.CheckConstraint(
                condition=~Q(kind=GuestKind.VIP) | Q(vip_level__gte=1),
                name="guests_guest_vip_has_level",
                violation_error_message="A VIP guest needs a VIP level from 1 to 5.",
            ),
            models.CheckConstraint(
                condition=~Q(kind=GuestKind.CORPORATE) | Q(company__isnull=False),
                name="guests_guest_corporate_has_company",
                violation_error_message="A corporate guest needs a company.",
            ),
            models.CheckConstraint(
                condition=Q(email="") | (Q(email__regex=EMAIL_SHAPE) & Q(email=Lower("email"))),
                name="guests_guest_email_format",
                violation_error_message="Enter a valid e-mail address.",
            ),
            models.CheckConstraint(
                condition=Q(phone="") | Q(phone__regex=E164),
                name="guests_guest_phone_e164",
                violation_error_message="Phone numbers are stored in E.164 (+351912345678).",
            ),
            models.CheckConstraint(
                condition=Q(nationality="") | Q(_iso_country("nationality")),
                name="guests_guest_nationality_iso",
                violation_error_message="Nationality must be a two-letter ISO 3166 code.",
            ),
            models.CheckConstraint(
                condition=Q(country="") | Q(_iso_country("country")),
                name="guests_guest_country_iso",
                violation_error_message="Country must be a two-letter ISO 3166 code.",
            ),
            models.CheckConstraint(
                condition=Q(document_number__isnull=True) | ~Q(document_type=""),
                name="guests_guest_document_has_type",
                violation_error_message="Say which kind of ID document the number belongs to.",
            ),
            # An encrypted value without its keyed hash could never be found again.
            models.CheckConstraint(
                condition=Q(document_number__isnull=True, document_number_index__isnull=True)
                | Q(document_number__isnull=False, document_number_index__isnull=False),
                name="guests_guest_document_indexed",
            ),
            models.CheckConstraint(
                condition=Q(date_of_birth__isnull=True, date_of_birth_index__isnull=True)
                | Q(date_of_birth__isnull=False, date_of_birth_index__isnull=False),
                name="guests_guest_date_of_birth_indexed",
            ),
            models.CheckConstraint(
                condition=Exact(
                    Func(
                        F("preferences"), function="jsonb_typeof", output_field=models.TextField()
                    ),
                    Value("object"),
                ),
                name="guests_guest_preferences_object",
                violation_error_message="Preferences must be a JSON object, e.g. {}.",
            ),
            # A merged profile lives on in its target: it is never live, never its own target.
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True)
                | (Q(deleted_at__isnull=False) & ~Q(merged_into=F("id"))),
                name="guests_guest_merged_is_deleted",
            ),
            # GDPR erasure is kept by the database: an anonymized row holds no personal data.
            models.CheckConstraint(
                condition=Q(anonymized_at__isnull=True)
                | Q(
                    given_name="",
                    email="",
                    phone="",
                    date_of_birth__isnull=True,
                    document_number__isnull=True,
                    address__isnull=True,
                    notes__isnull=True,
                    marketing_consent=False,
                ),
                name="guests_guest_anonymized_holds_no_personal_data",
                violation_error_message="An anonymized guest cannot hold personal data again.",
            ),
        ]
        # The GIN indexes skip the pending list (fastupdate off): a new or renamed guest is
        # searchable through the index at once, and the planner's cost estimate is not
        # inflated by an unflushed list (which made it prefer a sequential scan until the
        # next vacuum). Profiles are written rarely and searched all day.
        indexes = [
            # Admin search: any part of a name, typos included (LIKE, %>> strict word similarity).
            GinIndex(
                fields=["search_name"],
                opclasses=["gin_trgm_ops"],
                name="guests_guest_name_trgm",
                fastupdate=False,
            ),
            # Admin search: a name one typo away ("Cadroso" for Cardoso), search_typos &&.
            GinIndex(fields=["search_typos"], name="guests_guest_typo_keys", fastupdate=False),
            # Admin search: word prefixes of names, e-mail and phone (@@ prefix tsquery).
            GinIndex(
                fields=["search_vector"], name="guests_guest_search_vector", fastupdate=False
            ),
            # Admin search: any run of digits of a phone number.
            GinIndex(
                fields=["search_phone"],
                opclasses=["gin_trgm_ops"],
                name="guests_guest_phone_trgm",
                fastupdate=False,
            ),
            # Check-in: "do we know this passport?" (guest_find_by_document).
            models.Index(
                fields=["property", "document_number_index"],
                condition=Q(document_number_index__isnull=False),
                name="guests_guest_document_lookup",
            ),
            # Duplicate detection: same e-mail, or same date of birth (guest_duplicates).
            models.Index(
                fields=["property", "email"],
                condition=~Q(email="") & Q(deleted_at__isnull=True),
                name="guests_guest_email_lookup",
            ),
            models.Index(
                fields=["property", "date_of_birth_index"],
                condition=Q(date_of_birth_index__isnull=False) & Q(deleted_at__isnull=True),
                name="guests_guest_birth_lookup",
            ),
            # The admin list, sorted by name a page at a time.
            models.Index(fields=["family_name", "given_name"], name="guests_guest_name_order"),
        ]

    def __str__(self) -> str:
        return self.full_name or str(self.pk)

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.given_name, self.family_name) if part)

    def clean(self) -> None:
        super().clean()
        # Constraints are validated next and check each encrypted value has its index.
        for field in self._meta.concrete_fields:
            if isinstance(field, BlindIndexField):
                field.pre_save(self, add=self._state.adding)

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            # A blind index moves with its encrypted source, whatever the caller listed.
            fields = set(update_fields)
            for field in self._meta.concrete_fields:
                if isinstance(field, BlindIndexField) and field.source in fields:
                    fields.add(field.name)
            kwargs["update_fields"] = fields
        super().save(*args, **kwargs)


class GuestGroup(PropertyScopedModel):
    """A group travelling together (a tour, a wedding, a team), with one contact person."""

    name = models.CharField(max_length=200, db_collation=NAME_COLLATION)
    contact = models.ForeignKey(
        Guest,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contact_for_groups",
        help_text="Who the hotel talks to for the whole group.",
    )
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.PROTECT, related_name="groups"
    )
    arrival_date = models.DateField()
    departure_date = models.DateField()
    expected_size = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1)], help_text="Guests expected."
    )
    notes = models.TextField(blank=True)

    class Meta(PropertyScopedModel.Meta):
        ordering = ["-arrival_date", "name"]
        triggers = [same_property("contact"), same_property("company")]
        constraints = [
            models.CheckConstraint(
                condition=Q(departure_date__gt=F("arrival_date")),
                name="guests_guestgroup_departs_after_arrival",
                violation_error_message="Departure must be after arrival.",
            ),
            models.CheckConstraint(
                condition=Q(expected_size__gte=1),
                name="guests_guestgroup_size_positive",
                violation_error_message="A group has at least one guest.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.arrival_date:%d %b %Y})"
