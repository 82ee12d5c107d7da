"""Who/where reaches the database inside the transaction of the change, and nowhere else."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from audit.context import context
from audit.models import AuditEntry
from stayos.models import Room
from tests.admin_forms import room_change_data
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _settings() -> tuple[str | None, str | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('stayos.user_id', true),"
            " current_setting('stayos.context', true)"
        )
        return cursor.fetchone()


def test_a_write_outside_any_transaction_still_carries_the_context():
    room = RoomFactory()
    clerk = UserFactory()
    assert connection.get_autocommit()
    with context(user=clerk, reason="late checkout"):
        Room.objects.filter(pk=room.pk).update(notes="Guest leaves at 2 pm")
    assert Room.objects.get(pk=room.pk).updated_by == clerk


def test_nothing_is_left_on_the_connection_after_the_transaction():
    clerk = UserFactory()
    with context(user=clerk), transaction.atomic():
        RoomFactory()
        assert _settings()[0] == str(clerk.pk)
    # Same connection, next statement: the transaction-local settings are gone.
    assert _settings()[0] in (None, "")
    room = RoomFactory()
    assert Room.objects.get(pk=room.pk).created_by is None


def test_an_admin_request_stamps_the_staff_member_and_leaves_nothing_behind():
    clerk = UserFactory(username="ana")
    client = Client()
    client.force_login(clerk)
    room = RoomFactory(notes="")
    url = reverse("admin:stayos_room_change", args=[room.pk])
    data = room_change_data(room, 1, notes="Extra pillows")
    response = client.post(url, data, HTTP_USER_AGENT="Firefox", REMOTE_ADDR="10.0.0.7")
    assert response.status_code == 302
    assert response.headers["X-Request-ID"]
    assert Room.objects.get(pk=room.pk).updated_by == clerk
    entry = AuditEntry.objects.get(row_id=room.pk, action="update")
    assert (entry.user_id, entry.ip, entry.user_agent, entry.source) == (
        clerk.pk,
        "10.0.0.7",
        "Firefox",
        "web",
    )
    assert entry.request_id == response.headers["X-Request-ID"]
    assert entry.session_key == client.session.session_key

    # The next write on this connection, outside any request, is nobody's.
    Room.objects.filter(pk=room.pk).update(notes="")
    assert Room.objects.get(pk=room.pk).updated_by is None
    latest = AuditEntry.objects.filter(row_id=room.pk).order_by("-id").first()
    assert (latest.user_id, latest.ip, latest.request_id) == (None, None, "")


def test_a_raw_write_with_named_parameters_carries_the_context():
    room = RoomFactory()
    clerk = UserFactory()
    with context(user=clerk), connection.cursor() as cursor:
        cursor.execute(
            "/* housekeeping import */ UPDATE stayos_room SET notes = %(notes)s WHERE id = %(id)s",
            {"notes": "100% clean", "id": room.pk},
        )
        assert cursor.rowcount == 1
    stored = Room.objects.get(pk=room.pk)
    assert (stored.notes, stored.updated_by) == ("100% clean", clerk)


def test_a_write_after_the_context_block_in_the_same_transaction_is_not_attributed():
    clerk = UserFactory()
    with transaction.atomic():
        with context(user=clerk, reason="inside"):
            first = RoomFactory()
        second = RoomFactory()
    assert Room.objects.get(pk=first.pk).created_by == clerk
    assert Room.objects.get(pk=second.pk).created_by is None
    entry = AuditEntry.objects.get(row_id=second.pk)
    assert (entry.user_id, entry.reason) == (None, "")
