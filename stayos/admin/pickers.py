"""Pickers offer only the rows of the property being edited.

A room's type, a rate plan's room types, a guest's company, a company's negotiated rate plan:
each must belong to the row's own property (the database's same_property triggers refuse the
others). So every picker of a property-scoped form lists that property's rows only, and the
server does the filtering, whatever the browser sends:

- on a change form the property is the row's own;
- an add form is opened for one property: ``?property=<id>`` in the add URL, the property
  filter of the list staff came from (the "Add" button carries it), or the only property
  there is. Otherwise staff first choose the hotel on a short page (``add_view``). The
  form's property field then offers that property alone;
- select and filter_horizontal pickers are narrowed in ``get_form``; autocomplete pickers
  load their options from the related admin's autocomplete view, so their URL carries
  ``?property=<id>`` (rendered by the server, no script) and the related admin's
  ``get_queryset`` keeps that property's rows only.

A form posted without a chosen property (another client, an old tab) is validated as before;
the database still refuses a row of another property.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from stayos.admin.widgets import SafeAutocompleteSelect, SafeAutocompleteSelectMultiple
from stayos.models import Property, PropertyScopedModel

PROPERTY_PARAM = "property"
# The list filter's parameter for the property (list_filter = ("property", ...)).
LIST_FILTER_PARAM = "property__id__exact"

__all__ = ["PROPERTY_PARAM", "PropertyPickersMixin"]


class PropertyAutocompleteMixin:
    """An autocomplete widget whose options come from one property (``property_id``)."""

    property_id: Any = None

    def get_url(self) -> str:
        url = super().get_url()
        if self.property_id is None:
            return url
        return f"{url}?{urlencode({PROPERTY_PARAM: self.property_id})}"


class PropertyAutocompleteSelect(PropertyAutocompleteMixin, SafeAutocompleteSelect):
    pass


class PropertyAutocompleteSelectMultiple(
    PropertyAutocompleteMixin, SafeAutocompleteSelectMultiple
):
    pass


def _property_scoped(model: type[models.Model]) -> bool:
    return issubclass(model, PropertyScopedModel)


def _live_property_id(value: Any) -> Any:
    """The id of a live property the current staff member can see, or None."""
    try:
        return Property.objects.filter(pk=value).values_list("pk", flat=True).first()
    except (ValidationError, ValueError):
        return None


class PropertyPickersMixin:
    """For admins of property-scoped models (``PropertyScopedAdmin``): see the module."""

    choose_property_template = "admin/choose_property.html"

    def chosen_property_id(self, request: HttpRequest) -> Any:
        """The property an add form is for: asked for, filtered on, or the only one."""
        asked = request.GET.get(PROPERTY_PARAM)
        if asked is None:
            filters = dict(parse_qsl(request.GET.get("_changelist_filters", "")))
            asked = filters.get(LIST_FILTER_PARAM)
        if asked:
            return _live_property_id(asked)
        only = list(Property.objects.values_list("pk", flat=True)[:2])
        return only[0] if len(only) == 1 else None

    def _autocomplete_widget(self, db_field, request: HttpRequest, kwargs: dict, widget_class):
        if (
            "widget" not in kwargs
            and db_field.name in self.get_autocomplete_fields(request)
            and _property_scoped(db_field.related_model)
        ):
            kwargs["widget"] = widget_class(db_field, self.admin_site, using=kwargs.get("using"))
        return kwargs

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        kwargs = self._autocomplete_widget(db_field, request, kwargs, PropertyAutocompleteSelect)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs: Any):
        kwargs = self._autocomplete_widget(
            db_field, request, kwargs, PropertyAutocompleteSelectMultiple
        )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change, **kwargs)
        property_id = obj.property_id if obj is not None else self.chosen_property_id(request)
        if property_id is None:
            return form
        for name, field in form.base_fields.items():
            queryset = getattr(field, "queryset", None)
            if queryset is None:
                continue
            if name == "property" and obj is None:
                # The add form is for this property: it offers no other.
                field.queryset = queryset.filter(pk=property_id)
                field.initial = property_id
                field.empty_label = None
            elif _property_scoped(queryset.model):
                field.queryset = queryset.filter(property_id=property_id)
                widget = getattr(field.widget, "widget", field.widget)
                if isinstance(widget, PropertyAutocompleteMixin):
                    widget.property_id = property_id
        return form

    def has_property_pickers(self, request: HttpRequest) -> bool:
        """Whether the form offers rows of other property-scoped models."""
        return any(
            _property_scoped(field.queryset.model)
            for field in self.get_form(request).base_fields.values()
            if getattr(field, "queryset", None) is not None
        )

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        queryset = super().get_queryset(request)
        picking = getattr(request.resolver_match, "url_name", None) == "autocomplete"
        if picking and PROPERTY_PARAM in request.GET:
            # Asked for by a picker of a form for this property (PropertyAutocompleteMixin).
            property_id = _live_property_id(request.GET[PROPERTY_PARAM])
            if property_id is None:
                return queryset.none()
            queryset = queryset.filter(property_id=property_id)
        return queryset

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        if (
            request.method == "GET"
            and self.chosen_property_id(request) is None
            and self.has_property_pickers(request)
        ):
            return self.choose_property_view(request)
        return super().add_view(request, form_url, extra_context)

    def choose_property_view(self, request: HttpRequest) -> HttpResponse:
        """Step one of adding a row with pickers: which hotel is it for?"""
        if not self.has_add_permission(request):
            raise PermissionDenied
        kept = [(key, value) for key, value in request.GET.items() if key != PROPERTY_PARAM]
        choices = [
            (prop, "?" + urlencode([*kept, (PROPERTY_PARAM, prop.pk)]))
            for prop in Property.objects.order_by("code")
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Add {self.opts.verbose_name}: choose the property",
            "subtitle": None,
            "opts": self.opts,
            "choices": choices,
            "is_popup": IS_POPUP_VAR in request.GET,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.choose_property_template, context)
