"""Deleting from the admin keeps the row, hidden; a filter shows it and it can be restored."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from stayos.models import Room
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db


def test_deleting_from_the_admin_sets_deleted_at_and_hides_the_room(admin_client: Client):
    room = RoomFactory(number="404")
    response = admin_client.post(
        reverse("admin:stayos_room_delete", args=[room.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    stored = Room.all_objects.get(pk=room.pk)
    assert stored.deleted_at is not None
    assert stored.updated_by.username == "maria"
    assert not Room.objects.filter(pk=room.pk).exists()

    changelist = reverse("admin:stayos_room_changelist")
    assert ">404<" not in admin_client.get(changelist).content.decode()
    assert ">404<" in admin_client.get(changelist, {"deleted": "yes"}).content.decode()


def test_bulk_delete_action_soft_deletes_every_selected_room(admin_client: Client):
    rooms = RoomFactory.create_batch(3)
    admin_client.post(
        reverse("admin:stayos_room_changelist"),
        {"action": "delete_selected", "_selected_action": [r.pk for r in rooms], "post": "yes"},
    )
    assert Room.objects.filter(pk__in=[r.pk for r in rooms]).count() == 0
    assert Room.all_objects.filter(pk__in=[r.pk for r in rooms]).count() == 3


def test_a_deleted_room_frees_its_number_and_restore_refuses_a_clash(admin_client: Client):
    room = RoomFactory(number="12")
    Room.objects.filter(pk=room.pk).update(deleted_at="2026-11-01T10:00Z")
    RoomFactory(number="12", room_type=room.room_type, property=room.property)

    response = admin_client.post(
        reverse("admin:stayos_room_changelist") + "?deleted=yes",
        {"action": "restore_selected", "_selected_action": [room.pk]},
        follow=True,
    )
    assert "already has a room with this number" in response.content.decode()
    assert Room.all_objects.get(pk=room.pk).deleted_at is not None


def test_restore_brings_a_deleted_room_back(admin_client: Client):
    room = RoomFactory(number="15")
    Room.objects.filter(pk=room.pk).update(deleted_at="2026-11-01T10:00Z")
    admin_client.post(
        reverse("admin:stayos_room_changelist") + "?deleted=yes",
        {"action": "restore_selected", "_selected_action": [room.pk]},
    )
    assert Room.objects.filter(pk=room.pk).exists()


def test_the_room_type_picker_never_offers_a_deleted_room_type(admin_client: Client):
    from stayos.models import RoomType

    room = RoomFactory()
    live = room.room_type
    deleted = RoomType.objects.create(
        property=live.property, code="OLD", name="Standard Old Wing", capacity=2
    )
    RoomType.objects.filter(pk=deleted.pk).update(deleted_at="2026-11-01T10:00Z")
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "stayos",
            "model_name": "room",
            "field_name": "room_type",
            "term": "Standard",
        },
    )
    offered = {result["id"] for result in response.json()["results"]}
    assert str(live.pk) in offered
    assert str(deleted.pk) not in offered
