"""The write path: a save sends the fields that changed, checked against the version opened."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditLog
from stayos.models import Room, StaleVersionError
from stayos.services import tracked_save
from tests.admin_forms import room_change_data
from tests.factories import RoomFactory, UserFactory


def _room_updates(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if 'UPDATE "stayos_room"' in q["sql"]]


@pytest.mark.django_db
def test_a_one_field_edit_writes_that_column_only(admin_client: Client):
    room = RoomFactory(notes="")
    url = reverse("admin:stayos_room_change", args=[room.pk])
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.post(url, room_change_data(room, 1, notes="New curtains"))
    assert response.status_code == 302
    (update,) = _room_updates(captured)
    assert "SET \"notes\" = 'New curtains' WHERE" in update, update
    assert '"version" = 1' in update  # the version check rides in the UPDATE itself
    audit = AuditLog.objects.get(table_name="stayos_room", row_id=room.pk, action="update")
    assert audit.changed_fields == ["notes"]


@pytest.mark.django_db
def test_a_form_saved_without_changes_writes_nothing(admin_client: Client):
    room = RoomFactory(notes="")
    url = reverse("admin:stayos_room_change", args=[room.pk])
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.post(url, room_change_data(room, 1))
    assert response.status_code == 302
    assert _room_updates(captured) == []
    assert Room.objects.get(pk=room.pk).version == 1


@pytest.mark.django_db
def test_the_service_refuses_a_stale_version_and_writes_nothing():
    room = RoomFactory(notes="")
    stale = Room.objects.get(pk=room.pk)
    Room.objects.filter(pk=room.pk).update(floor=3)
    stale.notes = "Overwrite?"
    with pytest.raises(StaleVersionError) as refused:
        tracked_save(instance=stale, actor=None, fields=["notes"])
    assert (refused.value.expected, refused.value.current) == (1, 2)
    assert Room.objects.get(pk=room.pk).notes == ""


@pytest.mark.django_db(transaction=True)
def test_two_admin_saves_of_one_room_at_once_keep_one_and_tell_the_other():
    """Two staff press Save on the same room at the same moment, on separate connections."""
    room = RoomFactory(notes="")
    url = reverse("admin:stayos_room_change", args=[room.pk])
    staff = [UserFactory(username="ana"), UserFactory(username="rui")]
    barrier = threading.Barrier(len(staff))
    responses: dict[str, object] = {}
    errors: list[BaseException] = []

    def save(user, notes: str) -> None:
        try:
            client = Client()
            client.force_login(user)
            barrier.wait(timeout=30)
            responses[user.username] = client.post(url, room_change_data(room, 1, notes=notes))
        except BaseException as error:  # reported below, in the test's own thread
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=save, args=(user, f"Checked by {user.username}")) for user in staff
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    codes = sorted(response.status_code for response in responses.values())
    assert codes == [200, 302]
    (winner,) = [name for name, r in responses.items() if r.status_code == 302]
    (loser,) = [r for r in responses.values() if r.status_code == 200]
    assert "Not saved:" in loser.content.decode()
    stored = Room.objects.get(pk=room.pk)
    assert (stored.notes, stored.version) == (f"Checked by {winner}", 2)
    assert AuditLog.objects.filter(row_id=room.pk, action="update").count() == 1


@pytest.mark.django_db
def test_a_deleted_rooms_page_says_so_and_is_read_only(admin_client: Client):
    room = RoomFactory()
    admin_client.post(
        reverse("admin:stayos_room_delete", args=[room.pk]), {"post": "yes"}, follow=True
    )
    page = admin_client.get(reverse("admin:stayos_room_change", args=[room.pk]))
    text = page.content.decode()
    assert "was deleted at" in text
    assert "by Maria Santos" in text
    assert 'name="_save"' not in text  # no Save button: restore it first

    listing = admin_client.get(reverse("admin:stayos_room_changelist"), {"deleted": "yes"})
    rows = listing.content.decode()
    assert room.number in rows
    assert "by Maria Santos" in rows
