"""Every admin list and form, fed garbage, answers without a server error and writes nothing.

The test client re-raises any exception a view lets escape, so a would-be 500 fails the test
with its traceback. Forms are posted as a browser would (the page's own values, one field
swapped for garbage), inside a savepoint that is rolled back, so each attempt starts alike.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator

import pytest
from django import forms
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLog
from stayos.admin import TrackedAdmin
from stayos.models import PropertyScopedModel, RatePlanSeason
from tests.admin_forms import as_posted
from tests.factories import (
    AmenityFactory,
    CompanyFactory,
    GuestFactory,
    GuestGroupFactory,
    PropertyFactory,
    RatePlanFactory,
    RoomFactory,
    RoomTypeFactory,
)

pytestmark = pytest.mark.django_db

# Pairs that must stay ordered: sent reversed.
DATE_PAIRS = [
    ("valid_from", "valid_to"),
    ("start_date", "end_date"),
    ("arrival_date", "departure_date"),
]


def _hotel(code: str) -> dict:
    prop = PropertyFactory(code=code)
    room_type = RoomTypeFactory(property=prop)
    amenity = AmenityFactory(property=prop)
    room_type.amenities.add(amenity)
    room = RoomFactory(property=prop, room_type=room_type)
    room.amenities.add(amenity)
    plan = RatePlanFactory(property=prop)
    plan.room_types.add(room_type)
    RatePlanSeason.objects.create(
        property=prop,
        rate_plan=plan,
        name="Summer",
        start_date=datetime.date(2026, 6, 1),
        end_date=datetime.date(2026, 8, 31),
        multiplier=2,
    )
    company = CompanyFactory(property=prop, negotiated_rate_plan=plan)
    guest = GuestFactory(property=prop, company=company)
    GuestGroupFactory(property=prop, contact=guest, company=company)
    return {"property": prop}


@pytest.fixture
def hotels() -> tuple[dict, dict]:
    return _hotel("AAA"), _hotel("BBB")


def _admins() -> list[tuple[type, admin.ModelAdmin]]:
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


class _Undo(Exception):
    pass


def _attempt(client: Client, url: str, data: dict, model: type) -> tuple[int, bool]:
    """POST inside a savepoint rolled back after; returns the status and whether it wrote."""
    before = (model._base_manager.count(), AuditLog.objects.count())
    outcome: list = []
    try:
        with transaction.atomic():
            response = client.post(url, data)
            after = (model._base_manager.count(), AuditLog.objects.count())
            outcome = [response.status_code, after != before]
            raise _Undo
    except _Undo:
        pass
    return outcome[0], outcome[1]


def _page_data(response) -> tuple[dict, list[forms.BaseForm]]:
    """POST data for the whole page (form, inline formsets) and every form on it."""
    form = response.context["adminform"].form
    data, all_forms = as_posted(form), [form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(as_posted(formset.management_form))
        for inline_form in formset.forms:
            data.update(as_posted(inline_form))
            all_forms.append(inline_form)
    return data, all_forms


def _garbage(field: forms.Field, foreign: dict[type, object]) -> Iterator[tuple[str, object]]:
    """(kind, value) pairs of bad input for one form field."""
    if isinstance(field, forms.ModelMultipleChoiceField):
        target = field.queryset.model
        if target in foreign:
            yield "foreign", [str(foreign[target])]
        yield "wrong type", ["not-an-id"]
    elif isinstance(field, forms.ModelChoiceField):
        target = field.queryset.model
        if target in foreign:
            yield "foreign", str(foreign[target])
        yield "wrong type", "not-an-id"
        yield "unknown id", str(uuid.uuid4())
    elif isinstance(field, forms.JSONField):
        yield "nul", '{"note": "\\u0000"}'
        yield "malformed", '{"open": '
    elif isinstance(field, forms.MultipleChoiceField):
        yield "unknown choice", ["zzz"]
    elif isinstance(field, forms.ChoiceField):
        yield "unknown choice", "zzz"
    elif isinstance(field, forms.DateField):
        yield "impossible date", "2026-02-30"
        yield "wrong type", "soon"
    elif isinstance(field, forms.DecimalField | forms.FloatField | forms.IntegerField):
        yield "wrong type", "abc"
        yield "negative", "-1"
        yield "huge", "9" * 30
    elif isinstance(field, forms.CharField):
        if field.max_length:
            yield "too long", "x" * (field.max_length + 1)
        yield "nul", "bad\x00value"


def _form_cases(
    base: dict, all_forms: list[forms.BaseForm], foreign: dict[type, object]
) -> Iterator[tuple[str, dict, bool]]:
    """(label, data, must_be_refused) for each garbage variant of ``all_forms``' fields."""
    for form in all_forms:
        for name, field in form.fields.items():
            if name in {"id", "version", "DELETE"} or field.disabled:
                continue
            if isinstance(field.widget, forms.HiddenInput):
                continue
            key = form.add_prefix(name)
            for kind, value in _garbage(field, foreign):
                # Unknown ids, choices and malformed values are always refused; a plain
                # negative number or a long note may be legitimate.
                refused = kind not in {"negative", "too long"}
                if kind == "foreign" and name == "property":
                    refused = False  # moving a row to another property can be legitimate
                yield f"{key}={kind}", {**base, key: value}, refused
        for start, end in DATE_PAIRS:
            if start in form.fields and end in form.fields:
                first, last = form.add_prefix(start), form.add_prefix(end)
                if base.get(first) and base.get(last) and base[first] != base[last]:
                    swapped = {**base, first: base[last], last: base[first]}
                    yield f"{start}/{end} reversed", swapped, True


def _without_inline_rows(data: dict, page) -> dict:
    """The page's data as a new row's: the main form only, every inline formset empty."""
    data = dict(data)
    for inline in page.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data = {key: value for key, value in data.items() if not key.startswith(f"{prefix}-")}
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


def _foreign_rows(other: dict) -> dict[type, object]:
    """One row of each property-scoped model in the other hotel (for cross-tenant ids)."""
    rows = {}
    for model, _ in _admins():
        if issubclass(model, PropertyScopedModel):
            row = model.objects.filter(property=other["property"]).first()
            if row is not None:
                rows[model] = row.pk
    for model in {m for m, _ in _admins()}:
        for field in model._meta.get_fields():
            target = getattr(field, "related_model", None)
            if target and issubclass(target, PropertyScopedModel) and target not in rows:
                row = target.objects.filter(property=other["property"]).first()
                if row is not None:
                    rows[target] = row.pk
    return rows


TRACKED = [
    pytest.param(model, id=model._meta.label)
    for model, model_admin in _admins()
    if isinstance(model_admin, TrackedAdmin)
]


@pytest.mark.parametrize("model", TRACKED)
def test_garbage_in_any_change_form_is_a_form_error(admin_client: Client, hotels, model):
    home, other = hotels
    obj = model._base_manager.filter(
        **({"property": home["property"]} if issubclass(model, PropertyScopedModel) else {})
    ).first()
    assert obj is not None, f"the fixture has no {model._meta.label}"
    info = model._meta.app_label, model._meta.model_name
    foreign = _foreign_rows(other)
    change_url = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
    page = admin_client.get(change_url)
    assert page.status_code == 200
    base, all_forms = _page_data(page)
    _assert_refused_and_unwritten(
        admin_client, change_url, model, _form_cases(base, all_forms, foreign), "change"
    )

    # The same page posted as a new row (its inline rows left out): a copy that saves, so
    # that every refusal below is the garbage's doing, not a clash with the original.
    model._base_manager.filter(pk=obj.pk).update(deleted_at=timezone.now())
    add_url = reverse("admin:{}_{}_add".format(*info))
    copy = _without_inline_rows(base, page)
    assert _attempt(admin_client, add_url, copy, model) == (302, True), "the copy must save"
    cases = _form_cases(copy, all_forms[:1], foreign)
    _assert_refused_and_unwritten(admin_client, add_url, model, cases, "add")


def _assert_refused_and_unwritten(client: Client, url: str, model: type, cases, action: str):
    for label, data, must_be_refused in cases:
        status, wrote = _attempt(client, url, data, model)
        assert status in {200, 302}, f"{action} {label}: HTTP {status}"
        if status == 200:
            assert not wrote, f"{action} {label}: refused but wrote rows"
        if must_be_refused:
            assert status == 200, f"{action} {label}: garbage was saved"


GARBAGE_PARAMS = [
    {"o": "zzz"},
    {"o": "99.-42"},
    {"p": "abc"},
    {"p": "-1"},
    {"p": "99999"},
    {"q": "'; DROP TABLE stayos_room; --"},
    {"q": "x" * 5000},
    {"no_such_field__exact": "1"},
    {"id__in": "abc"},
]


@pytest.mark.parametrize("model", [pytest.param(m, id=m._meta.label) for m, _ in _admins()])
def test_garbage_in_any_list_url_is_not_a_server_error(admin_client: Client, hotels, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    page = admin_client.get(url)
    assert page.status_code == 200
    params = [*GARBAGE_PARAMS]
    for spec in page.context["cl"].filter_specs:
        for name in spec.expected_parameters():
            params += [
                {name: "abc"},
                {name: "-1"},
                {name: "2026-99-99"},
                {name: str(uuid.uuid4())},
            ]
    for query in params:
        response = admin_client.get(url, query)
        assert response.status_code in {200, 302}, f"{query}: HTTP {response.status_code}"


@pytest.mark.parametrize("path", ["/admin/stayos/room/?q=a%00b", "/admin/audit/auditentry/?q=%00"])
def test_a_nul_in_the_address_is_a_bad_request(admin_client: Client, hotels, path: str):
    assert admin_client.get(path).status_code == 400
