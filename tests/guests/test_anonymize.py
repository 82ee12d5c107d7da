"""guest_anonymize: personal data replaced, history and references kept, guards respected."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry, DomainEventEntry
from guests.guards import register_anonymize_guard, unregister_anonymize_guard
from guests.models import Guest, GuestGroup
from guests.services import guest_anonymize, guest_merge
from tests.constraints import refused_by
from tests.factories import GuestFactory, GuestGroupFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_house_guard():
    """What the reservations app will register: refuse while the guest is in house."""
    in_house: set = set()

    def guest_is_not_in_house(guest: Guest) -> str | None:
        return (
            "the guest is in house (room 204) until 2026-11-25." if guest.pk in in_house else None
        )

    register_anonymize_guard(guest_is_not_in_house)
    yield in_house
    unregister_anonymize_guard(guest_is_not_in_house)


def _audit_snapshot() -> list:
    return list(
        AuditEntry.objects.order_by("id").values_list("id", "table_name", "row_id", "old", "new")
    )


def test_it_replaces_personal_data_and_keeps_references_and_history():
    guest = GuestFactory(
        given_name="Ingrid",
        family_name="Bergström",
        kind=Guest.Kind.VIP,
        vip_level=3,
        marketing_consent=True,
        preferences={"pillow": "firm"},
        notes="Allergic to nuts",
    )
    group = GuestGroupFactory(contact=guest, property=guest.property)
    history_before = _audit_snapshot()
    officer = UserFactory()

    guest_anonymize(guest=guest, actor=officer, reason="erasure request #42")

    guest = Guest.objects.get(pk=guest.pk)
    assert guest.family_name.startswith("Anonymized guest")
    assert (guest.given_name, guest.email, guest.phone, guest.nationality) == ("", "", "", "")
    assert guest.date_of_birth is None and guest.document_number is None
    assert guest.address is None and guest.notes is None
    assert guest.preferences == {} and guest.marketing_consent is False
    assert (guest.kind, guest.vip_level) == (Guest.Kind.INDIVIDUAL, 0)
    assert guest.anonymized_at is not None
    assert guest.document_number_index is None and guest.date_of_birth_index is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_vector::text FROM guests_guest WHERE id = %s", [guest.pk])
        assert "bergstrom" not in cursor.fetchone()[0]
    # The stay-side records still point at the profile; earlier audit rows are untouched.
    assert GuestGroup.objects.get(pk=group.pk).contact_id == guest.pk
    assert _audit_snapshot()[: len(history_before)] == history_before
    event = DomainEventEntry.objects.get(name="guest.anonymized")
    assert event.user_id == officer.pk and event.reason == "erasure request #42"
    assert "Bergström" not in str(event.payload)


def test_the_audit_log_never_held_the_personal_data_it_would_have_to_forget():
    guest = GuestFactory(given_name="Ingrid", family_name="Bergström", email="ingrid@example.se")
    guest.family_name = "Lindqvist"
    guest.save()
    guest_anonymize(guest=guest, actor=UserFactory(), reason="erasure request #43")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM audit_log WHERE row_id = %s AND"
            " (old::text ~* '(Ingrid|Bergstr|Lindqvist|ingrid@)'"
            "  OR new::text ~* '(Ingrid|Bergstr|Lindqvist|ingrid@)')",
            [guest.pk],
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "SELECT changed_fields FROM audit_log WHERE row_id = %s AND action = 'update'"
            " ORDER BY id LIMIT 1",
            [guest.pk],
        )
        assert "family_name" in cursor.fetchone()[0]  # the fact of the change is kept


def test_a_registered_guard_refuses_with_its_reason(in_house_guard):
    guest = GuestFactory(family_name="Haddad")
    in_house_guard.add(guest.pk)
    with pytest.raises(ValidationError, match="in house"):
        guest_anonymize(guest=guest, actor=None)
    assert Guest.objects.get(pk=guest.pk).family_name == "Haddad"
    assert not DomainEventEntry.objects.filter(name="guest.anonymized").exists()


def test_it_also_erases_profiles_merged_into_the_guest():
    target = GuestFactory()
    source = GuestFactory(property=target.property, email="old@example.com")
    guest_merge(source=source, target=target, actor=None)
    guest_anonymize(guest=target, actor=None)
    source = Guest.all_objects.get(pk=source.pk)
    assert source.anonymized_at is not None and source.email == ""


def test_it_refuses_twice():
    guest = GuestFactory()
    guest_anonymize(guest=guest, actor=None)
    with pytest.raises(ValidationError, match="already anonymized"):
        guest_anonymize(guest=guest, actor=None)


def test_the_database_refuses_personal_data_on_an_anonymized_row():
    guest = GuestFactory()
    guest_anonymize(guest=guest, actor=None)
    with (
        refused_by("guests_guest_anonymized_holds_no_personal_data"),
        transaction.atomic(),
    ):
        Guest.objects.filter(pk=guest.pk).update(email="back@example.com")


def test_the_command_anonymizes_and_explains_refusals(in_house_guard):
    guest = GuestFactory()
    out = io.StringIO()
    call_command("guests", "anonymize", str(guest.pk), stdout=out)
    assert f"Guest {guest.pk} anonymized." in out.getvalue()
    other = GuestFactory()
    in_house_guard.add(other.pk)
    with pytest.raises(CommandError, match="in house"):
        call_command("guests", "anonymize", str(other.pk))
    with pytest.raises(CommandError, match="not a guest id"):
        call_command("guests", "anonymize", "42")


def test_the_admin_action_anonymizes_and_reports_refusals(admin_client: Client, in_house_guard):
    allowed = GuestFactory(family_name="Rossi")
    refused = GuestFactory(family_name="Bianchi")
    in_house_guard.add(refused.pk)
    response = admin_client.post(
        reverse("admin:guests_guest_changelist"),
        {"action": "anonymize_selected", "_selected_action": [allowed.pk, refused.pk]},
        follow=True,
    )
    content = response.content.decode()
    assert "Anonymized 1 guest(s)." in content
    assert "in house" in content
    assert Guest.objects.get(pk=refused.pk).family_name == "Bianchi"
    assert Guest.objects.get(pk=allowed.pk).anonymized_at is not None


def test_staff_without_the_permission_do_not_get_the_action(client: Client):
    clerk = UserFactory(is_superuser=False)
    from django.contrib.auth.models import Permission

    clerk.user_permissions.add(Permission.objects.get(codename="view_guest"))
    client.force_login(clerk)
    response = client.get(reverse("admin:guests_guest_changelist"))
    assert "anonymize_selected" not in response.content.decode()
