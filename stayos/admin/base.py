"""What every domain admin shares: optimistic locking, soft delete, bookkeeping read-only."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError, IntegrityError, InternalError, models
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import formats
from django.utils.text import capfirst

from audit.admin_lists import (
    CappedCountPaginator,
    IndexedValuesFilter,
    RecentFilter,
    ScaledListAdmin,
)
from audit.list_filters import ChoiceListFilter
from audit.selectors import describe, row_changes_since, row_history
from stayos import services
from stayos.admin.pickers import PropertyPickersMixin
from stayos.admin.widgets import SafeAutocompleteSelect, SafeAutocompleteSelectMultiple
from stayos.models import Property, PropertyScopedModel, StaleVersionError, TrackedModel
from stayos.refusals import refusal_for

__all__ = [
    "CappedCountPaginator",
    "ChoiceListFilter",
    "DeletedFilter",
    "IndexedValuesFilter",
    "PropertyScopedAdmin",
    "RecentFilter",
    "ScaledListAdmin",
    "TrackedAdmin",
    "TrackedInline",
    "VersionedModelForm",
]

HISTORY_LIMIT = 200

# Shown read-only; "version" travels as the form's hidden field instead (VersionedModelForm).
BOOKKEEPING_FIELDS = ("created_at", "created_by", "updated_at", "updated_by", "deleted_at")


def describe_user(user: Any) -> str:
    if user is None:
        return "a system process"
    return user.get_full_name() or user.get_username()


@dataclasses.dataclass(frozen=True)
class FormRefusal:
    """A refused save, located: the form (by prefix; None is the main form) and field."""

    prefix: str | None
    field: str | None
    message: str


class SaveRefused(Exception):
    def __init__(self, refusal: FormRefusal) -> None:
        self.refusal = refusal
        super().__init__(refusal.message)


class VersionedModelForm(forms.ModelForm):
    """Carries the version the form was opened with; the save is checked against it."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    # Set on the form class TrackedAdmin builds for a request whose save was refused.
    refusal: FormRefusal | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.fields["version"].initial = self.instance.version

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name, field in self.fields.items():
            # Django's text fields refuse NUL; JSON "\u0000" decodes to one, which jsonb refuses.
            if isinstance(field, forms.JSONField) and "\\u0000" in json.dumps(cleaned.get(name)):
                self.add_error(name, "JSON cannot hold a NUL character (\\u0000).")
        if self.refusal is not None and self.refusal.prefix == self.prefix:
            self.add_error(self.refusal.field, self.refusal.message)
        if self.instance._state.adding:
            return cleaned
        opened = cleaned.get("version")
        if opened is None:
            raise forms.ValidationError(
                "This form lost track of the version it was opened with; reload the page.",
                code="missing_version",
            )
        # The save writes WHERE version = <opened>: the one check, made by the write itself.
        self.instance.version = opened
        return cleaned

    def conflict_message(self, current: TrackedModel, opened: int) -> str:
        when = formats.date_format(current.updated_at, "DATETIME_FORMAT")
        message = (
            f"Not saved: {describe_user(current.updated_by)} changed this "
            f"{current._meta.verbose_name} at {when} (version {current.version}; you opened "
            f"version {opened}). Reload the page to see their changes, then apply yours again."
        )
        changes = [
            f"{capfirst(change.field)}: {change.old} → {change.new} ({item.who})"
            for item in row_changes_since(model=type(current), pk=current.pk, version=opened)
            for change in item.changes
        ]
        return f"{message} Their changes: {'; '.join(changes)}." if changes else message


@contextlib.contextmanager
def refusals_of(form: forms.BaseForm) -> Iterator[None]:
    """Turn a stale version or a database refusal during ``form``'s save into SaveRefused."""
    try:
        yield
    except StaleVersionError as error:
        current = error.model._base_manager.select_related("updated_by").get(pk=error.pk)
        conflict = getattr(form, "conflict_message", None)
        message = conflict(current, error.expected) if conflict else str(error)
        raise SaveRefused(FormRefusal(form.prefix, None, message)) from error
    except (IntegrityError, DataError, InternalError) as error:
        refusal = refusal_for(error)
        field = refusal.field if refusal.field in form.fields else None
        raise SaveRefused(FormRefusal(form.prefix, field, refusal.message)) from error


class DeletedFilter(ChoiceListFilter):
    """Soft-deleted rows are hidden unless asked for."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("yes", "Deleted only"), ("all", "Deleted and live")]

    def choices(self, changelist):
        # The unfiltered choice means "live rows", so name it that way.
        for choice in super().choices(changelist):
            if choice["display"] == "All":
                choice["display"] = "Live only"
            yield choice

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)


def _shows_deleted(request: HttpRequest) -> bool:
    return request.GET.get(DeletedFilter.parameter_name) in {"yes", "all"}


# Undoing a delete takes the right to delete: without it, anyone who may only view the list
# (an auditor) could bring rows back.
@admin.action(description="Restore selected deleted rows", permissions=["delete"])
def restore_selected(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset) -> None:
    try:
        count = services.tracked_restore(queryset=queryset, actor=request.user)
    except ValidationError as error:
        modeladmin.message_user(request, " ".join(error.messages), messages.ERROR)
    else:
        modeladmin.message_user(request, f"Restored {count} row(s).", messages.SUCCESS)


class SafeAutocompleteAdmin:
    """Autocomplete pickers that re-render a refused form whatever it was posted with."""

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs: Any):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class TrackedInline(SafeAutocompleteAdmin, admin.TabularInline):
    """Inline rows of a tracked parent: each carries its version like any change form."""

    form = VersionedModelForm
    extra = 0


class TrackedAdmin(SafeAutocompleteAdmin, ScaledListAdmin):
    """Base for every domain admin: saves and deletes go through the tracked services.

    Lists cost the same at a million rows as at a thousand (``ScaledListAdmin``: estimated
    or capped totals, no per-page work that grows with the table).

    The write path: the form carries the version it was opened with; ``save_model`` and
    ``save_formset`` hand each row to ``services.tracked_save`` with the form's changed
    fields (``UPDATE … WHERE id AND version``). A stale version or a database refusal
    (constraint, exclusion, trigger, bad value) aborts the whole save, and the page comes
    back with the form as typed and the refusal on the field it concerns.
    """

    form = VersionedModelForm
    actions = [restore_selected]
    list_filter: tuple = (DeletedFilter,)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        # Deleted rows stay reachable (history, restore); DeletedFilter hides them by default.
        # Pickers offering rows to link to (autocomplete) never offer deleted ones.
        picking = getattr(request.resolver_match, "url_name", None) == "autocomplete"
        manager = self.model.objects if picking else self.model.all_objects
        queryset = manager.get_queryset()
        ordering = self.get_ordering(request) or self.model._meta.ordering or ["pk"]
        return queryset.order_by(*ordering)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except SaveRefused as refused:
            # The view's transaction rolled back whole. Same request again: every form is
            # validated as posted, and the refused one fails on the refusal, so the page
            # shows what was typed with the error where it belongs, and nothing is saved.
            request.stayos_refusal = refused.refusal
            return super().changeform_view(request, object_id, form_url, extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and obj.deleted_at is not None and request.method == "GET":
            when = formats.date_format(obj.deleted_at, "DATETIME_FORMAT")
            self.message_user(
                request,
                f"This {self.opts.verbose_name} was deleted at {when} by "
                f"{describe_user(obj.updated_by)}. It is shown read-only; restore it from "
                "the list (filter “deleted”, action “Restore”) to change it.",
                messages.WARNING,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A deleted row is history: read-only until restored.
        if obj is not None and getattr(obj, "deleted_at", None) is not None:
            return False
        return super().has_change_permission(request, obj)

    def get_list_display(self, request: HttpRequest) -> tuple:
        shown = tuple(super().get_list_display(request))
        return (*shown, "deleted") if _shows_deleted(request) else shown

    def get_list_select_related(self, request: HttpRequest):
        related = super().get_list_select_related(request)
        if _shows_deleted(request) and related is not False:
            return (*(related if related is not True else ()), "updated_by")
        return related

    @admin.display(description="deleted", ordering="deleted_at")
    def deleted(self, obj: TrackedModel) -> str:
        if obj.deleted_at is None:
            return "—"
        when = formats.date_format(obj.deleted_at, "DATETIME_FORMAT")
        return f"{when} by {describe_user(obj.updated_by)}"

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        """Who changed what and when, from the audit log, newest first."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with id “{object_id}”.")
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        entries = list(row_history(model=self.model, pk=obj.pk)[: HISTORY_LIMIT + 1])
        context = {
            **self.admin_site.each_context(request),
            "title": f"History: {obj}",
            "subtitle": None,
            "object": obj,
            "opts": self.opts,
            "items": describe(model=self.model, entries=entries[:HISTORY_LIMIT]),
            "truncated": len(entries) > HISTORY_LIMIT,
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/tracked_history.html", context)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        # "version" is the form's own hidden field, not the model's (which is not editable).
        # (fields=None comes from ModelAdmin.get_fields itself: every editable field.)
        if "fields" not in kwargs:
            kwargs["fields"] = flatten_fieldsets(self.get_fieldsets(request, obj))
        if kwargs["fields"] is not None:
            kwargs["fields"] = [name for name in kwargs["fields"] if name != "version"]
        form = super().get_form(request, obj, change, **kwargs)
        # modelform_factory made this class for this call: the refusal cannot leak elsewhere.
        form.refusal = getattr(request, "stayos_refusal", None)
        return form

    def get_formsets_with_inlines(self, request: HttpRequest, obj: Any = None):
        for formset, inline in super().get_formsets_with_inlines(request, obj):
            # Inline forms are VersionedModelForms (TrackedInline), made for this call too.
            formset.form.refusal = getattr(request, "stayos_refusal", None)
            yield formset, inline

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple:
        return tuple(super().get_readonly_fields(request, obj)) + BOOKKEEPING_FIELDS

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        fieldsets = super().get_fieldsets(request, obj)
        if self.fieldsets:
            record = {"fields": ("version", *BOOKKEEPING_FIELDS), "classes": ("collapse",)}
            return [*fieldsets, ("Record", record)]
        return fieldsets

    def save_model(self, request: HttpRequest, obj: TrackedModel, form, change: bool) -> None:
        with refusals_of(form):
            services.tracked_save(
                instance=obj, actor=request.user, fields=form.changed_data if change else None
            )

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        with refusals_of(form):
            form.save_m2m()
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        """Each inline row through the tracked services, in the parent's property."""
        if not issubclass(formset.model, TrackedModel):
            super().save_formset(request, form, formset, change)
            return
        deleted = set(formset.deleted_forms) if formset.can_delete else set()
        # What the admin's change message reads (as BaseModelFormSet.save would leave it).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            row = inline_form.instance
            adding = row._state.adding
            with refusals_of(inline_form):
                if inline_form in deleted:
                    if not adding:
                        services.tracked_soft_delete(
                            queryset=formset.model.all_objects.filter(pk=row.pk),
                            actor=request.user,
                        )
                        formset.deleted_objects.append(row)
                    continue
                if not inline_form.has_changed():
                    continue
                row = inline_form.save(commit=False)  # the instance, and its save_m2m
                if adding:
                    formset.new_objects.append(row)
                else:
                    formset.changed_objects.append((row, inline_form.changed_data))
                setattr(row, formset.fk.name, formset.instance)
                if isinstance(row, PropertyScopedModel):
                    row.property_id = _property_of(formset.instance)
                services.tracked_save(
                    instance=row,
                    actor=request.user,
                    fields=None if adding else inline_form.changed_data,
                )
                inline_form.save_m2m()

    def delete_model(self, request: HttpRequest, obj: TrackedModel) -> None:
        services.tracked_soft_delete(
            queryset=self.model.all_objects.filter(pk=obj.pk), actor=request.user
        )

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        services.tracked_soft_delete(queryset=queryset, actor=request.user)


def _property_of(parent: models.Model) -> object:
    return parent.pk if isinstance(parent, Property) else parent.property_id


class PropertyScopedAdmin(PropertyPickersMixin, TrackedAdmin):
    """Base for rows that belong to a property: filter and show by property; pickers offer
    the row's own property's rows only (stayos.admin.pickers)."""

    list_filter: tuple = ("property", DeletedFilter)
    list_select_related: tuple = ("property",)
