"""Reads of guest profiles: search, duplicates, look-up by document, personal data export."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from django.apps import apps
from django.contrib.postgres.search import TrigramStrictWordSimilarity
from django.core import serializers
from django.db import connection, models
from django.db.models import Func, OrderBy, Q, Value
from django.utils import timezone

from audit.selectors import row_history
from guests import pii
from guests.fields import EncryptedTextField
from guests.models import Company, Guest, TypoKeys
from stayos.models import Property

# Below this many characters a word matches too much to be worth an infix or typo search;
# prefix search still serves it ("Mü" finds Müller).
MIN_FUZZY_LENGTH = 3
# Words this long are also looked up one typo away (guests_typo_keys(), same bound).
MIN_TYPO_LENGTH = 4
COMPANY_MATCH_LIMIT = 50


class SearchText(Func):
    """guests_search_text(): no accents, lower case, punctuation as spaces (see migration)."""

    function = "guests_search_text"
    output_field = models.TextField()


class MatchesPrefixes(Func):
    """vector @@ guests_prefix_tsquery(query): every typed word starts a word of the row."""

    output_field = models.BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        vector, query = self.get_source_expressions()
        vector_sql, vector_params = compiler.compile(vector)
        query_sql, query_params = compiler.compile(query)
        return (
            f"({vector_sql} @@ guests_prefix_tsquery({query_sql}))",
            [*vector_params, *query_params],
        )


class SharedTypoKeys(Func):
    """How many typo keys a row shares with what staff typed: every key of a word for the
    word itself, two for two swapped letters, one for a wrong, missing or extra letter, none
    for a mere prefix.

    ``typed`` are the typed text's keys, read from PostgreSQL first (``typo_keys``), so the
    count is a plain sum of array containments evaluated inline for each row found. The SQL
    function ``guests_shared_typo_keys(keys, typed)`` (guests migration 0005) counts the same
    with an ``unnest`` subquery per row: at a few thousand matches that cost three times the
    rest of the search.
    """

    output_field = models.IntegerField()

    def __init__(self, keys: Any, typed: list[str]) -> None:
        super().__init__(keys)
        self.typed = list(typed)

    def as_sql(self, compiler, connection, **extra_context):
        if not self.typed:  # (ORDER BY 0 would name a column)
            return "0::integer", []
        column_sql, column_params = compiler.compile(self.get_source_expressions()[0])
        terms = " + ".join(f"({column_sql} @> ARRAY[%s]::text[])::integer" for _ in self.typed)
        params = [param for key in self.typed for param in (*column_params, key)]
        return f"({terms})", params


def typo_keys(text: str) -> list[str]:
    """The typo keys of ``text``, as the search column holds them (guests_typo_keys())."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT guests_typo_keys(guests_search_text(%s))", [text])
        return cursor.fetchone()[0] or []


def _words(text: str) -> list[str]:
    # Split as guests_search_text() does (punctuation separates words); each word is then
    # normalized by PostgreSQL itself, at plan time (immutable functions of constants).
    return [word for word in re.split(r"[\W_]+", text) if word]


def guest_search_ordering(query: str) -> list[OrderBy | str]:
    """Closest names first, for the rows found only (never computed over the whole table):
    the most typo keys in common (the name itself, then two swapped letters, then one letter
    off), then pg_trgm strict word similarity, then the name."""
    text = " ".join(query.split())
    ordering: list[OrderBy | str] = []
    if any(len(word) >= MIN_TYPO_LENGTH for word in _words(text)):
        ordering.append(SharedTypoKeys("search_typos", typo_keys(text)).desc())
    ordering.append(TrigramStrictWordSimilarity(SearchText(Value(text)), "search_name").desc())
    return [*ordering, "family_name", "given_name", "pk"]


def guest_search(
    *, query: str, queryset: models.QuerySet[Guest] | None = None, ranked: bool = True
) -> models.QuerySet[Guest]:
    """Guests matching what staff typed, closest first (``guest_search_ordering``; with
    ``ranked=False``, or under three characters, the queryset keeps its own order): a name
    (any part, any accents, a typo), e-mail, phone digits or company name; every condition
    is served by a GIN index.

    - every word typed starts a word of the name, e-mail or phone (``search_vector @@
      'mul':*``, tsvector GIN), or is one typo from a word of the name (``search_typos &&
      guests_typo_keys('cadroso')``, array GIN: two letters swapped, one wrong, missing or
      extra; words of four letters or more);
    - any part of a name: ``search_name LIKE '%ller%'`` (trigram GIN);
    - phone digits anywhere: ``search_phone LIKE '%912345%'`` (trigram GIN);
    - a company's name: companies found through their own trigram index first.
    """
    queryset = Guest.objects.all() if queryset is None else queryset
    text = " ".join(query.split())
    words = _words(text)
    if not words:
        return queryset
    normalized = SearchText(Value(text))
    condition = Q()
    for word in words:
        matches_word = Q(MatchesPrefixes("search_vector", Value(word)))
        if len(word) >= MIN_TYPO_LENGTH:
            matches_word |= Q(search_typos__overlap=TypoKeys(SearchText(Value(word))))
        condition &= matches_word
    if len(text) >= MIN_FUZZY_LENGTH:
        condition |= Q(search_name__contains=normalized)
        # Companies first, by id: an IN over a subquery would keep the planner from
        # combining the guest indexes in one BitmapOr.
        company_ids = list(
            Company.objects.filter(search_name__contains=normalized).values_list("pk", flat=True)[
                :COMPANY_MATCH_LIMIT
            ]
        )
        if company_ids:
            condition |= Q(company_id__in=company_ids)
    digits = re.sub(r"\D", "", text)
    if len(digits) >= MIN_FUZZY_LENGTH and re.fullmatch(r"[\d\s+()./-]+", text):
        condition |= Q(search_phone__contains=digits)
    found = queryset.filter(condition)
    # One or two letters match a sixth of the guests and say nothing to rank by: those keep
    # the queryset's order (name order, read from the name index) rather than sort them all.
    if ranked and len(text) >= MIN_FUZZY_LENGTH:
        return found.order_by(*guest_search_ordering(text))
    return found


def guest_find_by_document(*, property: Property, number: str) -> models.QuerySet[Guest]:
    """Guests of a property holding this ID document number, through its keyed hash only."""
    field = Guest._meta.get_field("document_number_index")
    digest = field.digest(number)
    if digest is None:
        return Guest.objects.none()
    return Guest.objects.filter(property=property, document_number_index=digest)


@dataclasses.dataclass(frozen=True)
class DuplicatePair:
    """Two live profiles at one property that are probably the same person."""

    first: Guest
    second: Guest
    reasons: tuple[str, ...]


_DUPLICATES = """
SELECT a.id, b.id, 'same e-mail'
FROM guests_guest a
JOIN guests_guest b ON b.property_id = a.property_id AND b.email = a.email AND b.id > a.id
WHERE a.email <> '' AND a.deleted_at IS NULL AND b.deleted_at IS NULL {filter}
UNION ALL
SELECT a.id, b.id, 'similar name, same date of birth'
FROM guests_guest a
JOIN guests_guest b ON b.property_id = a.property_id
    AND b.date_of_birth_index = a.date_of_birth_index AND b.id > a.id
WHERE a.deleted_at IS NULL AND b.deleted_at IS NULL
    AND similarity(a.search_name, b.search_name) >= %s {filter}
ORDER BY 1, 2
LIMIT %s
"""

NAME_SIMILARITY = 0.5


def guest_duplicates(
    *, property: Property | None = None, guest: Guest | None = None, limit: int = 500
) -> list[DuplicatePair]:
    """Likely duplicate profiles: the same e-mail, or a similar name and the same date of
    birth (compared through its keyed hash: the dates themselves stay encrypted)."""
    clauses, params = [], []
    if property is not None:
        clauses.append("AND a.property_id = %s")
        params.append(property.pk)
    if guest is not None:
        clauses.append("AND (a.id = %s OR b.id = %s)")
        params.extend([guest.pk, guest.pk])
    where = " ".join(clauses)
    with connection.cursor() as cursor:
        cursor.execute(
            _DUPLICATES.format(filter=where), [*params, NAME_SIMILARITY, *params, limit]
        )
        rows = cursor.fetchall()
    reasons: dict[tuple, list[str]] = {}
    for first, second, reason in rows:
        reasons.setdefault((first, second), []).append(reason)
    guests = Guest.objects.select_related("property", "company").in_bulk(
        {pk for pair in reasons for pk in pair}
    )
    return [
        DuplicatePair(first=guests[first], second=guests[second], reasons=tuple(why))
        for (first, second), why in reasons.items()
    ]


def guest_references() -> list[models.ForeignKey]:
    """Every foreign key to Guest in every installed app, hidden ones (``related_name="+"``)
    included: reservations, folios and whatever later apps add are found, not listed."""
    return [
        field
        for model in apps.get_models(include_auto_created=True)
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is Guest
    ]


def guest_related_rows(*, guest: Guest) -> dict[str, models.QuerySet]:
    """The rows of other tables that point at ``guest``, keyed "app_label.model.field"."""
    related = {}
    for field in guest_references():
        manager = getattr(field.model, "all_objects", field.model._base_manager)
        related[f"{field.model._meta.label_lower}.{field.name}"] = manager.filter(
            **{field.name: guest}
        )
    return related


def _plain(instance: models.Model) -> dict[str, Any]:
    [serialized] = serializers.serialize("python", [instance])
    return {"id": serialized["pk"], **serialized["fields"]}


def guest_personal_data(*, guest: Guest) -> dict[str, Any]:
    """Everything StayOS holds about a guest, decrypted, for a right-of-access request."""
    profile = _plain(guest)
    for name in ("search_name", "search_phone", "search_vector", "search_typos"):
        profile.pop(name, None)
    for field in Guest._meta.concrete_fields:
        if field.name.endswith("_index"):
            profile.pop(field.name, None)
    profile["property"] = guest.property.code
    profile["nationality"] = str(guest.nationality or "")
    profile["country"] = str(guest.country or "")
    related = {
        label: [_plain(row) for row in rows]
        for label, rows in guest_related_rows(guest=guest).items()
        if label != "guests.guest.merged_into"
    }
    history = [
        {
            "at": entry.occurred_at,
            "action": entry.action,
            "changed_fields": [
                column for column in entry.changed_fields if not column.startswith("search_")
            ],
            "by_user_id": entry.user_id,
            "reason": entry.reason,
        }
        for entry in row_history(model=Guest, pk=guest.pk)
    ]
    return {
        "exported_at": timezone.now(),
        "guest": profile,
        "company": _plain(guest.company) if guest.company_id else None,
        "merged_profiles": [
            str(pk)
            for pk in Guest.all_objects.filter(merged_into=guest).values_list("pk", flat=True)
        ],
        "related": related,
        "history": history,
    }


def guests_on_old_keys(*, after: Any = None) -> models.QuerySet[Guest]:
    """Guests with a value sealed by a key other than the current one, in primary key order."""
    current = pii.current_key_id()
    stale = Q()
    for field in encrypted_fields():
        stale |= Q(**{f"{field.name}__isnull": False}) & ~Q(**{f"{field.name}__key_id": current})
    queryset = Guest.all_objects.filter(stale).order_by("pk")
    return queryset.filter(pk__gt=after) if after is not None else queryset


def encrypted_fields() -> list[EncryptedTextField]:
    return [
        field for field in Guest._meta.concrete_fields if isinstance(field, EncryptedTextField)
    ]
