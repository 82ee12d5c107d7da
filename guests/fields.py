"""Model fields for guests' personal data: encrypted columns, blind indexes, phone numbers."""

from __future__ import annotations

import datetime
import re
from typing import Any

import phonenumbers
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils.functional import cached_property

from guests import pii


class EncryptedTextField(models.TextField):
    """Plaintext in Python, AES-GCM ciphertext in the column (see ``guests.pii``).

    Equality or pattern look-ups cannot work on randomized ciphertext, so they are refused
    (``FieldError``) rather than silently matching nothing: look up through the field's
    ``BlindIndexField`` instead. ``isnull`` and the ``key_id`` transform (which key sealed the
    value, for rotation) are the only look-ups allowed. Empty values are stored as NULL.
    """

    description = "Text encrypted at rest"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    @property
    def purpose(self) -> str:
        return f"{self.model._meta.db_table}.{self.column}"

    def to_plaintext(self, value: Any) -> str:
        return str(value)

    def from_plaintext(self, plaintext: str) -> Any:
        return plaintext

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return self.from_plaintext(pii.decrypt(value, purpose=self.purpose))

    def get_prep_value(self, value: Any) -> str | None:
        value = self.to_python(value)
        if value is None or value == "":
            return None
        return pii.encrypt(self.to_plaintext(value), purpose=self.purpose)

    def get_lookup(self, lookup_name: str):
        # isnull, and pgtrigger's IS [NOT] DISTINCT FROM ("df"/"ndf": did the column change?)
        if lookup_name in {"isnull", "df", "ndf"}:
            return super().get_lookup(lookup_name)
        return None

    def get_transform(self, lookup_name: str):
        return KeyId if lookup_name == "key_id" else None

    def value_to_string(self, obj: models.Model) -> str:
        value = self.value_from_object(obj)
        return "" if value is None else self.to_plaintext(value)


class EncryptedCharField(EncryptedTextField):
    """A short encrypted value, edited in a one-line input (``max_length`` is the plaintext's)."""

    @cached_property
    def validators(self) -> list:
        extra = [MaxLengthValidator(self.max_length)] if self.max_length is not None else []
        return [*super().validators, *extra]

    def formfield(self, **kwargs: Any) -> forms.Field:
        kwargs.setdefault("widget", forms.TextInput)
        return super().formfield(**{"form_class": forms.CharField, **kwargs})


class EncryptedDateField(EncryptedTextField):
    """A date encrypted at rest; PostgreSQL cannot compare it, Django validates it."""

    description = "Date encrypted at rest"
    default_error_messages = {"invalid": "“%(value)s” is not a valid date (YYYY-MM-DD)."}

    def to_python(self, value: Any) -> datetime.date | None:
        if value is None or value == "":
            return None
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        try:
            return datetime.date.fromisoformat(str(value))
        except ValueError:
            raise ValidationError(
                self.error_messages["invalid"], code="invalid", params={"value": value}
            ) from None

    def to_plaintext(self, value: datetime.date) -> str:
        return value.isoformat()

    def from_plaintext(self, plaintext: str) -> datetime.date:
        return datetime.date.fromisoformat(plaintext)

    def formfield(self, **kwargs: Any) -> forms.Field:
        kwargs.pop("max_length", None)
        defaults = {"form_class": forms.DateField, "widget": forms.DateInput}
        return models.Field.formfield(self, **{**defaults, **kwargs})


class KeyId(models.Transform):
    """The id of the key that sealed an encrypted value: ``split_part(column, '$', 1)``."""

    lookup_name = "key_id"
    output_field = models.CharField()

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self.lhs)
        return f"split_part({sql}, '{pii.SEPARATOR}', 1)", params


def normalize_for_index(value: Any) -> str:
    """What two values share when they are "the same": dates by ISO day, documents by
    their letters and digits in upper case (``AB 123-456`` and ``ab123456`` are one)."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return re.sub(r"[^0-9A-Z]", "", str(value).upper())


class BlindIndexField(models.CharField):
    """HMAC of another field's normalized value, kept in step with it on every save.

    Filled in ``pre_save``, so ``save()``, ``bulk_create`` and ``bulk_update`` keep it; a save
    with ``update_fields`` must name it with its source (``Guest.save`` does).
    """

    def __init__(self, *args: Any, source: str, **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def digest(self, value: Any) -> str | None:
        if value is None or value == "":
            return None
        normalized = normalize_for_index(value)
        if not normalized:
            return None
        return pii.blind_index(normalized, purpose=f"{self.model._meta.db_table}.{self.source}")

    def pre_save(self, model_instance: models.Model, add: bool) -> str | None:
        digest = self.digest(getattr(model_instance, self.source))
        setattr(model_instance, self.attname, digest)
        return digest


class PhoneNumberField(models.CharField):
    """A phone number stored in E.164 (``+351912345678``); entered in any spacing.

    Parsed with Google's libphonenumber rules (``phonenumbers``), so "+44 20 7946 0958",
    "+44 (0)20 7946 0958" and "+442079460958" become one value, and impossible numbers are
    refused with a form error.
    """

    default_error_messages = {
        "invalid_phone": (
            "Enter a valid phone number in international format, e.g. +351 912 345 678."
        ),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 16)
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> str:
        value = super().to_python(value)
        if not value:
            return ""
        text = value.strip()
        if text.startswith("00"):
            text = "+" + text[2:]
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise ValidationError(self.error_messages["invalid_phone"], code="invalid_phone")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def formfield(self, **kwargs: Any) -> forms.Field:
        # The form takes what staff type ("+351 912 345 678"); the model normalizes it.
        kwargs.setdefault("max_length", 30)
        return super().formfield(**kwargs)


class LowercaseEmailField(models.EmailField):
    """An e-mail address kept in lower case, so one address is one value for look-ups."""

    def to_python(self, value: Any) -> str:
        value = super().to_python(value)
        return value.strip().lower() if value else ""
