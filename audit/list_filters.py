"""Admin list filters shared by every app (the audit app is the lowest layer)."""

from __future__ import annotations

from django.contrib import admin


class ChoiceListFilter(admin.SimpleListFilter):
    """A list filter that ignores a value it does not offer (a typed URL, an old bookmark).

    A value outside the choices would otherwise reach the query (``user=abc`` against an
    integer column) and end in a server error instead of the unfiltered list.
    """

    def value(self) -> str | None:
        value = super().value()
        offered = {str(key) for key, _ in self.lookup_choices}
        return value if value in offered else None
