"""The seeded staff roles: each one reaches the pages its job needs and is refused the rest."""

from __future__ import annotations

import io

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from guests import seeding as guests_seeding
from stayos.models import Property, Room
from stayos.roles import ACCOUNTING, AUDITOR, FRONT_DESK, HOUSEKEEPING, MANAGER, ROLES
from stayos.seeding import staff_roles_setup
from tests.admin_forms import room_change_data
from tests.factories import GuestFactory, RoomFactory, UserFactory

pytestmark = pytest.mark.django_db

F, H, A, U, M = FRONT_DESK, HOUSEKEEPING, ACCOUNTING, AUDITOR, MANAGER

# (URL name, the object it is about or None, the roles that open it; every other role gets 403)
PAGES: list[tuple[str, str | None, set[str]]] = [
    ("admin:index", None, {F, H, A, U, M}),
    ("admin:stayos_property_changelist", None, {F, A, U, M}),
    ("admin:stayos_property_add", None, set()),
    ("admin:stayos_roomtype_changelist", None, {F, A, U, M}),
    ("admin:stayos_room_changelist", None, {F, H, U, M}),
    ("admin:stayos_room_change", "room", {F, H, U, M}),
    ("admin:stayos_room_history", "room", {F, H, U, M}),
    ("admin:stayos_room_add", None, {M}),
    ("admin:stayos_amenity_changelist", None, {F, U, M}),
    ("admin:stayos_rateplan_changelist", None, {F, A, U, M}),
    ("admin:stayos_rateplan_add", None, {A, M}),
    ("admin:guests_guest_changelist", None, {F, U, M}),
    ("admin:guests_guest_add", None, {F, M}),
    ("admin:guests_guest_change", "guest", {F, U, M}),
    ("admin:guests_company_changelist", None, {F, A, U, M}),
    ("admin:guests_company_add", None, {F, A, M}),
    ("admin:guests_guestgroup_changelist", None, {F, U, M}),
    ("admin:audit_auditentry_changelist", None, {U, M}),
    ("admin:audit_domainevententry_changelist", None, {U, M}),
    ("admin:audit_auditseal_changelist", None, {U, M}),
    ("admin:audit_jobrun_changelist", None, {U, M}),
    ("admin:auth_user_changelist", None, {U}),
    ("admin:django_celery_beat_periodictask_changelist", None, {U, M}),
    ("monitoring-partition-metrics", None, {U, M}),
    ("monitoring-partition-verify", None, {U, M}),
]


def _client_for(role: str) -> Client:
    staff_roles_setup()
    user = UserFactory(is_staff=True, is_superuser=False)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def objects() -> dict[str, object]:
    room = RoomFactory()
    return {"room": room, "guest": GuestFactory(property=room.property)}


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_opens_the_pages_of_its_job_and_no_others(role: str, objects: dict):
    client = _client_for(role)
    expected, got = {}, {}
    for name, about, roles in PAGES:
        url = reverse(name, args=[objects[about].pk] if about else [])
        expected[url] = 200 if role in roles else 403
        got[url] = client.get(url).status_code
    assert got == expected


def _run_action(client: Client, action: str, room: Room) -> None:
    client.post(
        reverse("admin:stayos_room_changelist") + "?deleted=all",
        {"action": action, "_selected_action": [room.pk], "index": 0},
    )


def test_housekeeping_marks_rooms_clean_but_cannot_edit_them():
    room = RoomFactory(housekeeping_status=Room.HousekeepingStatus.DIRTY, notes="")
    client = _client_for(HOUSEKEEPING)
    _run_action(client, "mark_clean", room)
    room.refresh_from_db()
    assert room.housekeeping_status == Room.HousekeepingStatus.CLEAN

    edit = client.post(
        reverse("admin:stayos_room_change", args=[room.pk]),
        room_change_data(room, room.version, notes="Repainted"),
    )
    assert edit.status_code == 403
    room.refresh_from_db()
    assert room.notes == ""


def test_an_auditor_can_neither_mark_nor_restore_rooms():
    room = RoomFactory(housekeeping_status=Room.HousekeepingStatus.DIRTY)
    deleted = RoomFactory(property=room.property, room_type=room.room_type)
    Room.objects.filter(pk=deleted.pk).update(deleted_at="2026-11-20T10:00:00Z")
    client = _client_for(AUDITOR)
    _run_action(client, "mark_clean", room)
    _run_action(client, "restore_selected", deleted)
    room.refresh_from_db()
    deleted.refresh_from_db()
    assert room.housekeeping_status == Room.HousekeepingStatus.DIRTY
    assert deleted.deleted_at is not None


def test_an_auditor_is_offered_no_action_on_any_list():
    # Read-only means no action either: an action offered without allowed_permissions is
    # offered to everyone who can open the list. Later apps' pages are checked too.
    staff_roles_setup()
    auditor = UserFactory(is_staff=True, is_superuser=False)
    auditor.groups.add(Group.objects.get(name=AUDITOR))
    request = RequestFactory().get("/")
    request.user = auditor
    offered = {
        f"{model._meta.label}: {name}"
        for model, model_admin in admin.site._registry.items()
        for name in model_admin.get_actions(request)
    }
    assert offered == set()


@pytest.mark.parametrize("role", [AUDITOR, MANAGER])
def test_reading_the_beat_schedule_does_not_allow_switching_a_job_off(role: str):
    job = PeriodicTask.objects.create(
        name="seal-audit-log",
        task="stayos.tasks.seal_audit_log",
        crontab=CrontabSchedule.objects.create(minute="20", hour="0"),
    )
    client = _client_for(role)
    url = reverse("admin:django_celery_beat_periodictask_changelist")
    assert client.get(url).context["action_form"] is None
    client.post(url, {"action": "disable_tasks", "_selected_action": [job.pk], "index": 0})
    job.refresh_from_db()
    assert job.enabled


def test_front_desk_cannot_merge_anonymize_or_export_guests():
    guest = GuestFactory()
    client = _client_for(FRONT_DESK)
    page = client.get(reverse("admin:guests_guest_changelist"))
    assert page.context["action_form"] is None  # no merge, GDPR or restore action offered
    client.post(
        reverse("admin:guests_guest_changelist"),
        {"action": "anonymize_selected", "_selected_action": [guest.pk], "index": 0},
    )
    guest.refresh_from_db()
    assert guest.anonymized_at is None


def _grants() -> dict[str, set[str]]:
    return {
        group.name: {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        for group in Group.objects.filter(name__in=ROLES)
    }


def test_a_second_setup_changes_nothing_and_takes_back_what_code_no_longer_grants():
    staff_roles_setup()
    first = _grants()
    housekeeping = Group.objects.get(name=HOUSEKEEPING)
    # What an older seed granted housekeeping: the whole room form.
    housekeeping.permissions.add(Permission.objects.get(codename="change_room"))
    staff_roles_setup()
    assert _grants() == first
    assert Group.objects.filter(name__in=ROLES).count() == len(ROLES)
    assert first[HOUSEKEEPING] == {"stayos.view_room", "stayos.change_room_housekeeping_status"}


def test_it_refuses_a_grant_that_names_no_permission(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(guests_seeding.ROLE_PERMISSIONS, FRONT_DESK, ("guests.view_gest",))
    with pytest.raises(ImproperlyConfigured, match=r"guests\.view_gest"):
        staff_roles_setup()


def test_seed_roles_only_sets_up_the_roles_without_demo_data():
    call_command("seed", "--roles-only", stdout=io.StringIO())
    assert set(Group.objects.values_list("name", flat=True)) == set(ROLES)
    assert not Property.objects.exists()


def test_seed_names_a_grant_that_names_no_permission(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(guests_seeding.ROLE_PERMISSIONS, MANAGER, ("guests.fly_guest",))
    with pytest.raises(CommandError, match=r"guests\.fly_guest"):
        call_command("seed", "--roles-only", stdout=io.StringIO())


def test_it_refuses_a_grant_to_a_role_that_does_not_exist(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(guests_seeding.ROLE_PERMISSIONS, "Concierge", ("guests.view_guest",))
    with pytest.raises(ImproperlyConfigured, match="Concierge"):
        staff_roles_setup()
