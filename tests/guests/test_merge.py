"""guest_merge: references move to the target, the source is soft-deleted, all audited."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry, DomainEventEntry
from guests.models import Guest, GuestGroup
from guests.selectors import guest_references
from guests.services import guest_merge
from tests.factories import GuestFactory, GuestGroupFactory, PropertyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_every_foreign_key_to_guest_is_found_in_the_app_registry():
    labels = {f"{field.model._meta.label}.{field.name}" for field in guest_references()}
    assert {"guests.GuestGroup.contact", "guests.Guest.merged_into"} <= labels


def test_it_moves_references_and_soft_deletes_the_source():
    prop = PropertyFactory()
    target = GuestFactory(property=prop, family_name="Okafor", email="", phone="", notes=None)
    source = GuestFactory(
        property=prop,
        family_name="Okafor",
        email="chidi@example.com",
        notes="Late arrival",
        preferences={"pillow": "firm"},
    )
    groups = GuestGroupFactory.create_batch(2, contact=source, property=prop)
    earlier = GuestFactory(property=prop)
    guest_merge(source=earlier, target=source, actor=None)  # merged into the source before
    clerk = UserFactory()

    result = guest_merge(source=source, target=target, actor=clerk)

    assert GuestGroup.objects.filter(contact=target).count() == 2
    assert not GuestGroup.objects.filter(contact=source).exists()
    assert result.moved == {"guests.guestgroup.contact": 2, "guests.guest.merged_into": 1}
    source = Guest.all_objects.get(pk=source.pk)
    assert source.deleted_at is not None
    assert source.merged_into_id == target.pk
    assert Guest.all_objects.get(pk=earlier.pk).merged_into_id == target.pk
    target = Guest.objects.get(pk=target.pk)
    assert target.email == "chidi@example.com"
    assert target.notes == "Late arrival"
    assert target.preferences == {"pillow": "firm"}
    assert set(result.filled) >= {"email", "notes", "preferences"}
    # Audited: who moved which rows, and one domain event naming both profiles.
    updates = AuditEntry.objects.filter(user_id=clerk.pk, action="update")
    assert {entry.row_id for entry in updates.filter(table_name="guests_guestgroup")} == {
        group.pk for group in groups
    }
    assert updates.filter(table_name="guests_guest", row_id=source.pk).exists()
    event = DomainEventEntry.objects.get(name="guest.merged", aggregate_id=target.pk)
    assert event.payload["source"] == str(source.pk)
    assert event.user_id == clerk.pk


def test_it_keeps_the_targets_own_values():
    prop = PropertyFactory()
    target = GuestFactory(property=prop, email="own@example.com", marketing_consent=False)
    source = GuestFactory(property=prop, email="other@example.com", marketing_consent=True)
    guest_merge(source=source, target=target, actor=None)
    target = Guest.objects.get(pk=target.pk)
    assert target.email == "own@example.com"
    assert target.marketing_consent is False  # consent is never carried over


@pytest.mark.parametrize(
    "case, message",
    [
        ("same", "cannot be merged into itself"),
        ("other_property", "same property"),
        ("deleted", "is deleted"),
    ],
)
def test_it_refuses_what_cannot_be_merged(case: str, message: str):
    target = GuestFactory()
    if case == "same":
        source = target
    elif case == "other_property":
        source = GuestFactory()
    else:
        source = GuestFactory(property=target.property)
        Guest.objects.filter(pk=source.pk).update(deleted_at=datetime.datetime.now(datetime.UTC))
    with pytest.raises(ValidationError, match=message):
        guest_merge(source=source, target=target, actor=None)
    assert Guest.objects.filter(pk=target.pk).exists()


def test_the_admin_action_merges_the_newer_into_the_older(admin_client: Client):
    prop = PropertyFactory()
    older = GuestFactory(property=prop, family_name="Dubois")
    newer = GuestFactory(property=prop, family_name="Dubois")
    GuestGroupFactory(contact=newer, property=prop)
    response = admin_client.post(
        reverse("admin:guests_guest_changelist"),
        {"action": "merge_two", "_selected_action": [older.pk, newer.pk]},
        follow=True,
    )
    assert "Merged" in response.content.decode()
    assert GuestGroup.objects.get().contact_id == older.pk
    assert Guest.all_objects.get(pk=newer.pk).merged_into_id == older.pk


def test_the_admin_action_wants_exactly_two(admin_client: Client):
    guest = GuestFactory()
    response = admin_client.post(
        reverse("admin:guests_guest_changelist"),
        {"action": "merge_two", "_selected_action": [guest.pk]},
        follow=True,
    )
    assert "Select exactly two guests to merge." in response.content.decode()
