"""Admin widgets that survive whatever a form was posted with."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError


class _ValidValuesOnly:
    """Re-rendering a refused form, Django's autocomplete looks up the posted values as ids;
    one that is not even a valid id ("abc" for a UUID) would crash the page. Drop those: the
    form already says the choice is invalid."""

    def optgroups(self, name: str, value: list, attr: dict | None = None) -> Any:
        remote = self.field.remote_field
        target = remote.model._meta.get_field(remote.field_name)
        valid = []
        for item in value:
            try:
                target.to_python(item)
            except ValidationError:
                continue
            valid.append(item)
        return super().optgroups(name, valid, attr)


class SafeAutocompleteSelect(_ValidValuesOnly, AutocompleteSelect):
    pass


class SafeAutocompleteSelectMultiple(_ValidValuesOnly, AutocompleteSelectMultiple):
    pass
