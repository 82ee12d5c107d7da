"""Staff see who changed what, from where, and cannot touch the log from the admin."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.context import context
from stayos.models import Room
from tests.admin_forms import room_change_data
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_change_made_in_the_admin_shows_staff_member_ip_and_field_diff(admin_client: Client):
    room = RoomFactory(housekeeping_status="clean", notes="")
    change_url = reverse("admin:stayos_room_change", args=[room.pk])
    response = admin_client.post(
        change_url,
        room_change_data(room, 1, housekeeping_status="dirty", notes="Guest spilled coffee"),
        REMOTE_ADDR="192.0.2.44",
        HTTP_USER_AGENT="Mozilla/5.0 FrontDesk",
    )
    assert response.status_code == 302

    history = admin_client.get(reverse("admin:stayos_room_history", args=[room.pk]))
    page = history.content.decode()
    assert "Maria Santos" in page
    assert "192.0.2.44" in page
    assert "Housekeeping status</strong>:\n            Clean → Dirty" in page
    assert "Notes</strong>:\n            — → Guest spilled coffee" in page
    # Newest first: the change comes before the creation.
    assert page.index("Changed") < page.index("Created")


def test_history_names_related_objects_and_system_changes(admin_client: Client):
    room = RoomFactory()
    with context(source="command:import", reason="night import"):
        Room.objects.filter(pk=room.pk).update(floor=7)
    page = admin_client.get(reverse("admin:stayos_room_history", args=[room.pk])).content.decode()
    assert "command:import" in page
    assert "night import" in page
    assert str(room.room_type) in page  # the creation lists the room type by name, not its id


def test_the_conflict_message_lists_the_other_persons_changes(admin_client: Client):
    room = RoomFactory(notes="", floor=1)
    url = reverse("admin:stayos_room_change", args=[room.pk])
    colleague = Client()
    colleague.force_login(UserFactory(username="joao", first_name="João", last_name="Silva"))
    colleague.post(url, room_change_data(room, 1, notes="Leaking tap", floor=2))

    page = admin_client.post(url, room_change_data(room, 1, notes="All fine")).content.decode()

    assert "Their changes: " in page
    assert "Floor: 1 → 2 (João Silva)" in page
    assert "Notes: — → Leaking tap (João Silva)" in page


def test_the_audit_browser_is_read_only(admin_client: Client):
    room = RoomFactory()
    entry_id = connection.cursor().execute("SELECT max(id) FROM audit_log").fetchone()[0]
    assert admin_client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    detail = admin_client.get(reverse("admin:audit_auditentry_change", args=[entry_id]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    delete = admin_client.post(
        reverse("admin:audit_auditentry_delete", args=[entry_id]), {"post": "yes"}
    )
    assert delete.status_code == 403
    assert Room.objects.filter(pk=room.pk).exists()


def test_the_audit_browser_filters_and_stays_cheap(admin_client: Client, staff_user):
    url = reverse("admin:audit_auditentry_changelist")
    with context(user=staff_user):
        RoomFactory.create_batch(3)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    with context(user=UserFactory()):
        RoomFactory.create_batch(20)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)
    assert len(many) == len(few)
    assert "Maria Santos" in response.content.decode()

    filtered = admin_client.get(
        url, {"user": staff_user.pk, "action__exact": "insert", "table": "stayos_room"}
    )
    results = filtered.context["cl"].result_list
    assert len(results) == 3
    assert {entry.user_id for entry in results} == {staff_user.pk}
    dated = admin_client.get(
        url,
        {
            "occurred_at__gte": "2000-01-01 00:00+00:00",
            "occurred_at__lt": "2000-01-02 00:00+00:00",
        },
    )
    assert list(dated.context["cl"].result_list) == []


def test_the_history_of_a_row_that_does_not_exist_is_a_404(admin_client: Client):
    url = reverse("admin:stayos_room_history", args=["01a230a5-92e4-7c37-9205-2c59d72b0964"])
    assert admin_client.get(url).status_code == 404
    assert admin_client.get(url.replace("01a230a5", "not-a-uuid")).status_code == 404
