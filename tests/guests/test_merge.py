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
from tests.concurrency import run_concurrently
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


def _merge(source: Guest, target: Guest):
    return lambda: guest_merge(source=source, target=target, actor=None)


def _assert_no_cycle_and_no_dangling_reference() -> None:
    merged_into = dict(Guest.all_objects.values_list("pk", "merged_into_id"))
    alive = set(Guest.objects.values_list("pk", flat=True))
    for guest in merged_into:
        seen = []
        while guest not in alive:
            assert guest not in seen, f"merge cycle: {seen}"
            seen.append(guest)
            guest = merged_into[guest]
            assert guest is not None, f"{seen[-1]} is deleted but merged into nobody"
    assert set(GuestGroup.objects.values_list("contact_id", flat=True)) <= alive


@pytest.mark.django_db(transaction=True)
def test_two_merges_of_one_pair_in_opposite_directions_let_exactly_one_through():
    prop = PropertyFactory()
    first, second = GuestFactory(property=prop), GuestFactory(property=prop)
    GuestGroupFactory(contact=first, property=prop)
    GuestGroupFactory(contact=second, property=prop)

    outcomes = run_concurrently(_merge(first, second), _merge(second, first))

    [won] = [outcome for outcome in outcomes if outcome.error is None]
    [refused] = [outcome.error for outcome in outcomes if outcome.error is not None]
    assert isinstance(refused, ValidationError)
    assert "has already been merged into" in refused.message
    survivor = won.result.target
    assert set(Guest.objects.values_list("pk", flat=True)) == {survivor.pk}
    assert set(GuestGroup.objects.values_list("contact_id", flat=True)) == {survivor.pk}
    _assert_no_cycle_and_no_dangling_reference()
    assert DomainEventEntry.objects.filter(name="guest.merged").count() == 1


@pytest.mark.django_db(transaction=True)
def test_merging_a_guest_away_while_another_merges_into_it_loses_nothing():
    prop = PropertyFactory()
    a, b, c = (GuestFactory(property=prop) for _ in range(3))
    groups = {guest.pk: GuestGroupFactory(contact=guest, property=prop) for guest in (a, b, c)}

    outcomes = run_concurrently(_merge(a, c), _merge(b, a))

    assert outcomes[0].error is None  # a → c never waits on anything it cannot have
    if outcomes[1].error is None:  # b → a went first: b's records followed a into c
        assert Guest.all_objects.get(pk=b.pk).merged_into_id == c.pk
    else:  # a → c went first: a is gone, so b → a is refused and b stays
        assert "has already been merged into" in outcomes[1].error.message
        assert Guest.objects.filter(pk=b.pk).exists()
    assert Guest.all_objects.get(pk=a.pk).merged_into_id == c.pk
    assert GuestGroup.objects.get(pk=groups[a.pk].pk).contact_id == c.pk
    assert GuestGroup.objects.count() == 3
    _assert_no_cycle_and_no_dangling_reference()
