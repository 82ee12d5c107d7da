"""Writes to the hotel setup: rooms, soft delete and restore of any tracked row."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from audit.context import context
from stayos.models import Room, TrackedModel
from stayos.models.base import TRIGGER_OWNED_FIELDS

Actor = AbstractBaseUser | AnonymousUser | None


def _as_user(actor: Actor) -> AbstractBaseUser | None:
    return actor if actor is not None and actor.is_authenticated else None


@transaction.atomic
def tracked_save(
    *,
    instance: TrackedModel,
    actor: Actor,
    fields: Iterable[str] | None = None,
    reason: str | None = None,
) -> None:
    """Insert a new row, or write ``fields`` of an existing one at the version it was read.

    ``fields`` (e.g. a form's ``changed_data``) may name form-only or many-to-many fields;
    only the row's own columns are written, so a one-field edit sends one column and fires
    only the triggers that column concerns. A row saved by someone else since it was read
    raises ``StaleVersionError`` and nothing is written.
    """
    with context(user=_as_user(actor), reason=reason):
        if instance._state.adding or fields is None:
            instance.save()
            return
        columns = {
            field.name
            for field in instance._meta.concrete_fields
            if field.name not in TRIGGER_OWNED_FIELDS  # the form's hidden "version" included
        }
        changed = [name for name in fields if name in columns]
        if changed:
            instance.save(update_fields=changed)
        elif fields:
            # Only relations changed (e.g. amenities): no column to write, same version rule.
            instance.lock_at_version()


@transaction.atomic
def tracked_soft_delete(
    *, queryset: models.QuerySet, actor: Actor, reason: str | None = None
) -> int:
    """Mark rows deleted (kept for history and the ledger); returns how many were alive."""
    with context(user=_as_user(actor), reason=reason):
        return queryset.model.all_objects.filter(
            pk__in=queryset.values("pk"), deleted_at__isnull=True
        ).update(deleted_at=timezone.now())


@transaction.atomic
def tracked_restore(*, queryset: models.QuerySet, actor: Actor, reason: str | None = None) -> int:
    """Bring soft-deleted rows back; a clash with a live row's unique code is refused."""
    rows = queryset.model.all_objects.select_for_update().filter(pk__in=queryset.values("pk"))
    with context(user=_as_user(actor), reason=reason):
        restored = 0
        for row in rows.deleted():
            row.deleted_at = None
            try:
                row.validate_constraints()
            except ValidationError as error:
                raise ValidationError(
                    f"{row} cannot be restored: {' '.join(error.messages)}"
                ) from error
            row.save(update_fields=["deleted_at"])
            restored += 1
        return restored


@transaction.atomic
def room_set_housekeeping_status(
    *, rooms: models.QuerySet[Room], status: str, actor: Actor
) -> int:
    """Set the housekeeping status of rooms; rooms already in that status are left alone."""
    if status not in Room.HousekeepingStatus.values:
        raise ValidationError(f"Unknown housekeeping status “{status}”.")
    with context(user=_as_user(actor), reason=f"housekeeping: {status}"):
        # Lock the rooms so two housekeepers marking the same room record one change each.
        changing = list(
            Room.objects.select_for_update()
            .filter(pk__in=rooms.values("pk"))
            .exclude(housekeeping_status=status)
            .order_by("pk")
        )
        # The room's status_changed_event trigger records room.status_changed for each one.
        Room.objects.filter(pk__in=[room.pk for room in changing]).update(
            housekeeping_status=status
        )
        return len(changing)
