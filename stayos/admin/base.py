"""What every domain admin shares: optimistic locking, soft delete, bookkeeping read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import formats
from django.utils.text import capfirst

from audit.selectors import describe, row_changes_since, row_history
from stayos import services
from stayos.admin.pickers import PropertyPickersMixin
from stayos.models import TrackedModel

HISTORY_LIMIT = 200

# Shown read-only; "version" travels as the form's hidden field instead (VersionedModelForm).
BOOKKEEPING_FIELDS = ("created_at", "created_by", "updated_at", "updated_by", "deleted_at")


def describe_user(user: Any) -> str:
    if user is None:
        return "a system process"
    return user.get_full_name() or user.get_username()


class VersionedModelForm(forms.ModelForm):
    """Carries the version the form was opened with, and refuses to save over a newer one."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.fields["version"].initial = self.instance.version

    def _get_validation_exclusions(self) -> set[str]:
        # Unique codes and numbers hold among live rows (condition: deleted_at IS NULL);
        # Django skips a constraint whose fields are not on the form unless told otherwise.
        return super()._get_validation_exclusions() - {"deleted_at"}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.instance._state.adding:
            return cleaned
        opened = cleaned.get("version")
        if opened is None:
            raise forms.ValidationError(
                "This form lost track of the version it was opened with; reload the page.",
                code="missing_version",
            )
        # Lock the row until this request's transaction ends (the admin's change view is
        # atomic), so no other save can slip in between this check and our UPDATE.
        model = type(self.instance)
        current = (
            model._base_manager.select_for_update(of=("self",))
            .select_related("updated_by")
            .get(pk=self.instance.pk)
        )
        if current.version != opened:
            raise forms.ValidationError(self.conflict_message(current, opened), code="stale")
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


class DeletedFilter(admin.SimpleListFilter):
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


@admin.action(description="Restore selected deleted rows")
def restore_selected(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset) -> None:
    try:
        count = services.tracked_restore(queryset=queryset, actor=request.user)
    except ValidationError as error:
        modeladmin.message_user(request, " ".join(error.messages), messages.ERROR)
    else:
        modeladmin.message_user(request, f"Restored {count} row(s).", messages.SUCCESS)


class TrackedAdmin(admin.ModelAdmin):
    """Base for every domain admin: saves and deletes go through the tracked services."""

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

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        """Who changed what and when, from the audit log, newest first."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
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
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple:
        return tuple(super().get_readonly_fields(request, obj)) + BOOKKEEPING_FIELDS

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        fieldsets = super().get_fieldsets(request, obj)
        if self.fieldsets:
            record = {"fields": ("version", *BOOKKEEPING_FIELDS), "classes": ("collapse",)}
            return [*fieldsets, ("Record", record)]
        return fieldsets

    def save_model(self, request: HttpRequest, obj: TrackedModel, form, change: bool) -> None:
        services.tracked_save(instance=obj, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: TrackedModel) -> None:
        services.tracked_soft_delete(
            queryset=self.model.all_objects.filter(pk=obj.pk), actor=request.user
        )

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        services.tracked_soft_delete(queryset=queryset, actor=request.user)


class PropertyScopedAdmin(PropertyPickersMixin, TrackedAdmin):
    """Base for rows that belong to a property: filter and show by property; pickers offer
    the row's own property's rows only (stayos.admin.pickers)."""

    list_filter: tuple = ("property", DeletedFilter)
    list_select_related: tuple = ("property",)
