"""Rules that later apps add to guest anonymization, without guests importing them.

Reservations and billing sit above guests (imports point down only), yet "refuse to anonymize
a guest who is in house, has a future confirmed stay or an open folio balance" is theirs to
know. Each registers a guard in its ``AppConfig.ready()``::

    from guests.guards import register_anonymize_guard

    @register_anonymize_guard
    def guest_has_no_open_stay(guest):
        if Reservation.objects.filter(guest=guest, status__in=[...]).exists():
            return "The guest is in house or has a confirmed stay ahead."
        return None

A guard returns ``None`` to allow, or the sentence staff will read to refuse.
``guest_anonymize`` runs every guard inside its transaction, with the guest row locked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guests.models import Guest

AnonymizeGuard = Callable[["Guest"], str | None]

_anonymize_guards: list[AnonymizeGuard] = []


def register_anonymize_guard(guard: AnonymizeGuard) -> AnonymizeGuard:
    """Add a guard (usable as a decorator); registering the same one twice is harmless."""
    if guard not in _anonymize_guards:
        _anonymize_guards.append(guard)
    return guard


def unregister_anonymize_guard(guard: AnonymizeGuard) -> None:
    if guard in _anonymize_guards:
        _anonymize_guards.remove(guard)


def anonymize_refusals(guest: Guest) -> list[str]:
    """Why ``guest`` may not be anonymized now; empty when nothing stands in the way."""
    return [reason for guard in list(_anonymize_guards) if (reason := guard(guest))]
