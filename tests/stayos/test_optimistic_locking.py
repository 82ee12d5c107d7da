"""Two staff editing the same row: the first save stands, the second is told, nothing lost."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from stayos.models import Room, StaleVersionError
from tests.admin_forms import room_change_data
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_it_refuses_an_orm_save_of_a_stale_instance():
    room = RoomFactory()
    first, second = Room.objects.get(pk=room.pk), Room.objects.get(pk=room.pk)
    first.notes = "Broken kettle"
    first.save()
    second.notes = "All fine"
    with pytest.raises(StaleVersionError), transaction.atomic():
        second.save()
    assert Room.objects.get(pk=room.pk).notes == "Broken kettle"


def test_the_change_form_carries_the_version_it_was_opened_with(admin_client: Client):
    room = RoomFactory()
    Room.objects.filter(pk=room.pk).update(notes="edited once")
    response = admin_client.get(reverse("admin:stayos_room_change", args=[room.pk]))
    assert response.status_code == 200
    assert 'name="version" value="2"' in response.content.decode()


def test_it_keeps_the_first_save_and_shows_a_conflict_to_the_second_tab(admin_client: Client):
    room = RoomFactory(notes="")
    url = reverse("admin:stayos_room_change", args=[room.pk])
    # Two tabs opened at version 1; another staff member saves in the first.
    colleague = Client()
    colleague.force_login(UserFactory(username="joao", first_name="João", last_name="Silva"))
    first = colleague.post(url, room_change_data(room, 1, notes="Leaking tap reported"))
    assert first.status_code == 302

    second = admin_client.post(url, room_change_data(room, 1, notes="Room is fine"))

    assert second.status_code == 200
    page = second.content.decode()
    assert "Not saved: João Silva changed this room" in page
    assert "you opened version 1" in page
    stored = Room.objects.get(pk=room.pk)
    assert stored.notes == "Leaking tap reported"
    assert stored.version == 2


def test_a_save_at_the_current_version_goes_through(admin_client: Client):
    room = RoomFactory(notes="")
    url = reverse("admin:stayos_room_change", args=[room.pk])
    response = admin_client.post(url, room_change_data(room, 1, notes="New curtains"))
    assert response.status_code == 302
    stored = Room.objects.get(pk=room.pk)
    assert (stored.notes, stored.version, stored.updated_by.username) == (
        "New curtains",
        2,
        "maria",
    )
