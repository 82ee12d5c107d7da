"""Writes to guest profiles: save, merge, anonymize (GDPR), export (GDPR), key rotation."""

from __future__ import annotations

import dataclasses
from typing import Any

import pgtrigger
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.context import context
from audit.events import event_record
from guests import pii
from guests.guards import anonymize_refusals
from guests.models import Guest, GuestKind
from guests.selectors import (
    encrypted_fields,
    guest_personal_data,
    guest_references,
    guests_on_old_keys,
)
from stayos.models import Property

Actor = AbstractBaseUser | AnonymousUser | None

# What staff may set on a profile; the rest belongs to triggers and to these services.
PROFILE_FIELDS = frozenset(
    field.name
    for field in Guest._meta.concrete_fields
    if field.editable and field.name not in {"id", "property"}
)

# On merge, the target keeps its own values and takes the source's where it has none.
# Marketing consent is not among them: consent given on one profile is not assumed for another.
MERGE_FILL_FIELDS = (
    "title",
    "given_name",
    "email",
    "phone",
    "nationality",
    "language",
    "date_of_birth",
    "document_type",
    "document_number",
    "address",
    "city",
    "country",
    "company",
    "notes",
)

ANONYMIZED_NAME = "Anonymized guest"


def _user(actor: Actor) -> AbstractBaseUser | None:
    return actor if actor is not None and actor.is_authenticated else None


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == {}


@transaction.atomic
def guest_save(*, guest: Guest, actor: Actor, reason: str | None = None) -> Guest:
    """Validate and save a profile (new or changed); bad input raises ``ValidationError``."""
    guest.full_clean()
    with context(user=_user(actor), reason=reason):
        guest.save()
    return guest


def guest_create(*, property: Property, family_name: str, actor: Actor, **profile: Any) -> Guest:
    """Create a profile at ``property``; ``profile`` holds any other profile field."""
    unknown = set(profile) - PROFILE_FIELDS
    if unknown:
        raise TypeError(f"Not profile fields: {', '.join(sorted(unknown))}")
    guest = Guest(property=property, family_name=family_name, **profile)
    return guest_save(guest=guest, actor=actor)


@dataclasses.dataclass(frozen=True)
class MergeResult:
    target: Guest
    moved: dict[str, int]
    filled: list[str]


def _lock(*pks: Any) -> dict[Any, Guest]:
    # Always in primary key order, so two merges over the same pair cannot deadlock.
    rows = Guest.all_objects.select_for_update().filter(pk__in=pks).order_by("pk")
    return {guest.pk: guest for guest in rows}


@transaction.atomic
def guest_merge(
    *, source: Guest, target: Guest, actor: Actor, reason: str | None = None
) -> MergeResult:
    """Fold ``source`` into ``target``: every reference moves, blanks are filled, the source
    is soft-deleted with ``merged_into`` set; one transaction, audited, ``guest.merged``."""
    if source.pk == target.pk:
        raise ValidationError("A guest cannot be merged into itself.")
    locked = _lock(source.pk, target.pk)
    if source.pk not in locked or target.pk not in locked:
        raise ValidationError("One of the two guests no longer exists.")
    source, target = locked[source.pk], locked[target.pk]
    if source.property_id != target.property_id:
        raise ValidationError("Only guests of the same property can be merged.")
    for guest in (source, target):
        # Read after the lock: a merge that finished while this one waited shows up here.
        if guest.merged_into_id is not None:
            raise ValidationError(
                f"{guest} has already been merged into {guest.merged_into}; "
                "merge with that profile instead."
            )
        if guest.deleted_at is not None:
            raise ValidationError(f"{guest} is deleted; restore it before merging.")
        if guest.anonymized_at is not None:
            raise ValidationError(f"{guest} is anonymized and cannot be merged.")

    with context(user=_user(actor), reason=reason or f"merge guest {source.pk} into {target.pk}"):
        moved: dict[str, int] = {}
        try:
            with transaction.atomic():
                for field in guest_references():
                    count = field.model._base_manager.filter(**{field.name: source}).update(
                        **{field.name: target}
                    )
                    if count:
                        moved[f"{field.model._meta.label_lower}.{field.name}"] = count
        except IntegrityError as error:
            raise ValidationError(
                f"The two profiles' records cannot be combined: {error}"
            ) from error

        filled = [
            name
            for name in MERGE_FILL_FIELDS
            if _is_empty(getattr(target, Guest._meta.get_field(name).attname))
            and not _is_empty(getattr(source, Guest._meta.get_field(name).attname))
        ]
        for name in filled:
            attname = Guest._meta.get_field(name).attname
            setattr(target, attname, getattr(source, attname))
        preferences = {**source.preferences, **target.preferences}
        if preferences != target.preferences:
            target.preferences = preferences
            filled.append("preferences")
        if target.vip_level < source.vip_level:
            target.vip_level = source.vip_level
            filled.append("vip_level")
        if filled:
            target.full_clean()
            target.save(update_fields=filled)

        source.merged_into = target
        source.deleted_at = timezone.now()
        source.save(update_fields=["merged_into", "deleted_at"])
        event_record(
            name="guest.merged",
            aggregate=target,
            payload={"source": str(source.pk), "moved": moved, "filled": filled},
        )
    target.refresh_from_db()
    return MergeResult(target=target, moved=moved, filled=filled)


def _scrub(guest: Guest, *, now: Any) -> list[str]:
    """Replace a profile's personal data with placeholders; returns the fields cleared."""
    cleared = {
        "title": "",
        "given_name": "",
        "family_name": f"{ANONYMIZED_NAME} {str(guest.pk)[-8:]}",
        "email": "",
        "phone": "",
        "nationality": "",
        "language": "",
        "date_of_birth": None,
        "document_type": "",
        "document_number": None,
        "address": None,
        "city": "",
        "country": "",
        "marketing_consent": False,
        "preferences": {},
        "notes": None,
        "vip_level": 0,
    }
    if guest.kind == GuestKind.VIP:
        cleared["kind"] = GuestKind.INDIVIDUAL
    for name, value in cleared.items():
        setattr(guest, name, value)
    guest.anonymized_at = now
    fields = [*cleared, "anonymized_at"]
    guest.save(update_fields=fields)
    _scrub_admin_log(guest)
    return sorted(cleared)


def _scrub_admin_log(guest: Guest) -> None:
    """The admin's own log keeps each object's name as it was (``object_repr``): erase it.

    ``change_message`` holds field labels, not values, for a guest; it is cleared anyway, as
    inline changes quote the related rows' names.
    """
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Guest, for_concrete_model=False),
        object_id=str(guest.pk),
    ).update(
        object_repr=str(guest)[: LogEntry._meta.get_field("object_repr").max_length],
        change_message="",
    )


@transaction.atomic
def guest_anonymize(*, guest: Guest, actor: Actor, reason: str | None = None) -> Guest:
    """Erase a guest's personal data (GDPR art. 17), keeping every stay, folio and ledger
    row that points at the profile; refused while a registered guard objects."""
    locked = _lock(guest.pk)
    if guest.pk not in locked:
        raise ValidationError("This guest no longer exists.")
    guest = locked[guest.pk]
    if guest.anonymized_at is not None:
        raise ValidationError(
            f"This guest was already anonymized on {guest.anonymized_at:%Y-%m-%d}."
        )
    if guest.merged_into_id is not None:
        raise ValidationError("This profile was merged into another: anonymize that one.")
    refusals = anonymize_refusals(guest)
    if refusals:
        raise ValidationError([f"{guest} cannot be anonymized: {why}" for why in refusals])

    now = timezone.now()
    with context(user=_user(actor), reason=reason or "GDPR erasure request"):
        cleared = _scrub(guest, now=now)
        # Profiles merged into this one hold the same person's older data: erase them too.
        merged_ids = Guest.all_objects.filter(merged_into=guest).values_list("pk", flat=True)
        merged = list(_lock(*merged_ids).values())
        for source in merged:
            if source.anonymized_at is None:
                _scrub(source, now=now)
        event_record(
            name="guest.anonymized",
            aggregate=guest,
            payload={"cleared": cleared, "merged_profiles": [str(g.pk) for g in merged]},
        )
    guest.refresh_from_db()
    return guest


@transaction.atomic
def guest_export(*, guest: Guest, actor: Actor, reason: str | None = None) -> dict[str, Any]:
    """Everything held about a guest (GDPR art. 15), decrypted; the release is recorded."""
    data = guest_personal_data(guest=guest)
    with context(user=_user(actor), reason=reason or "GDPR access request"):
        event_record(name="guest.exported", aggregate=guest, payload={})
    return data


@dataclasses.dataclass(frozen=True)
class RotationProgress:
    key_id: str
    rotated: int
    remaining: int


def guest_rotate_pii_key(
    *, actor: Actor, batch_size: int = 500, limit: int | None = None
) -> RotationProgress:
    """Re-encrypt every guest's personal data under the current key, a batch per transaction.

    Not one transaction on purpose: each batch commits on its own, so an interrupted run
    loses nothing and the next run resumes (rows already on the current key are not
    selected again). ``limit`` stops after that many rows.
    """
    if batch_size < 1:
        raise ValidationError("The batch size must be at least 1.")
    if limit is not None and limit < 1:
        raise ValidationError("The limit must be at least 1.")
    key_id = pii.current_key_id()
    rotated, after = 0, None
    while limit is None or rotated < limit:
        size = batch_size if limit is None else min(batch_size, limit - rotated)
        done, after = _rotate_batch(after=after, size=size, actor=actor)
        rotated += done
        if done < size:
            break
    return RotationProgress(key_id=key_id, rotated=rotated, remaining=guests_on_old_keys().count())


@transaction.atomic
def _rotate_batch(*, after: Any, size: int, actor: Actor) -> tuple[int, Any]:
    """Re-encrypt up to ``size`` rows after primary key ``after``; verify before commit."""
    rows = list(guests_on_old_keys(after=after).select_for_update(of=("self",))[:size])
    if not rows:
        return 0, after
    fields = [field.name for field in encrypted_fields()]
    before = {row.pk: [getattr(row, name) for name in fields] for row in rows}
    # Same plaintext, new ciphertext: the profile did not change, so the version stays and
    # no one's open edit form turns stale. The update is still audited like any other.
    with (
        context(user=_user(actor), reason="guest personal data key rotation"),
        pgtrigger.ignore("guests.Guest:bump_version"),
        # A savepoint inside the ignore block: if encrypting fails, the transaction is clean
        # again when pgtrigger resets its setting on the way out.
        transaction.atomic(),
    ):
        Guest.all_objects.bulk_update(rows, fields)
    key_id = pii.current_key_id()
    for row in Guest.all_objects.filter(pk__in=before).only("pk", *fields):
        if [getattr(row, name) for name in fields] != before[row.pk]:
            raise RuntimeError(f"Guest {row.pk} does not decrypt to its old values; rolled back.")
    if guests_on_old_keys().filter(pk__in=before).exists():
        raise RuntimeError(f"Rows of this batch are still not on key {key_id}; rolled back.")
    return len(rows), rows[-1].pk
