"""Many-to-many links (a room's amenities, a rate plan's room types) are audited changes."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from audit.context import context
from audit.models import AuditEntry
from stayos.models import Room
from tests.admin_forms import room_change_data
from tests.factories import (
    AmenityFactory,
    RatePlanFactory,
    RoomFactory,
    RoomTypeFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

AMENITIES_LINE = "Amenities</strong>:\n            "


def _link_entries(owner) -> list[AuditEntry]:
    """The owner's link changes, oldest first."""
    return list(
        AuditEntry.objects.filter(
            table_name=owner._meta.db_table,
            row_id=owner.pk,
            changed_fields__overlap=["amenities", "room_types"],
        ).order_by("occurred_at", "id")
    )


def test_it_shows_amenities_added_and_removed_in_the_admin_in_the_room_history(
    admin_client: Client,
):
    room = RoomFactory()
    minibar = AmenityFactory(property=room.property, name="Minibar")
    balcony = AmenityFactory(property=room.property, name="Balcony")
    room.amenities.add(balcony)
    room.refresh_from_db()
    url = reverse("admin:stayos_room_change", args=[room.pk])

    response = admin_client.post(
        url, room_change_data(room, room.version, amenities=[minibar.pk]), REMOTE_ADDR="192.0.2.7"
    )

    assert response.status_code == 302
    assert set(room.amenities.all()) == {minibar}
    page = admin_client.get(reverse("admin:stayos_room_history", args=[room.pk])).content.decode()
    assert f"{AMENITIES_LINE}added Minibar</li>" in page
    assert f"{AMENITIES_LINE}removed Balcony</li>" in page
    assert f"{AMENITIES_LINE}added Balcony</li>" in page  # the ORM add before, "system"
    [removed, added] = _link_entries(room)[-2:]
    assert (removed.user_id, str(removed.ip)) == (response.wsgi_request.user.pk, "192.0.2.7")
    assert added.old == {"amenities": []}
    assert added.new["amenities"] == [str(minibar.pk)]
    assert added.property_id == room.property_id
    # The audit browser files them under rooms; it offers no filter for the link table.
    browser = admin_client.get(reverse("admin:audit_auditentry_changelist")).content.decode()
    assert "table=stayos_room&" in browser or 'table=stayos_room"' in browser
    assert "stayos_room_amenities" not in browser


@pytest.mark.parametrize(
    ("owner_factory", "field", "related_factory"),
    [
        (RoomFactory, "amenities", AmenityFactory),
        (RoomTypeFactory, "amenities", AmenityFactory),
        (RatePlanFactory, "room_types", RoomTypeFactory),
    ],
)
def test_it_audits_links_written_by_any_path(owner_factory, field, related_factory):
    owner = owner_factory()
    first, second = (
        related_factory(property=owner.property),
        related_factory(property=owner.property),
    )
    links = getattr(owner, field)
    clerk = UserFactory()
    through = links.through._meta
    source = through.get_field(owner._meta.model_name).column
    target = through.get_field(first._meta.model_name).column

    with context(user=clerk, reason="import"):
        links.add(first)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {through.db_table} ({source}, {target}) VALUES (%s, %s)",
                [owner.pk, second.pk],
            )
            cursor.execute(
                f"DELETE FROM {through.db_table} WHERE {source} = %s AND {target} = %s",
                [owner.pk, first.pk],
            )

    entries = _link_entries(owner)
    ids = sorted([str(first.pk), str(second.pk)])
    assert [(e.old[field], e.new[field]) for e in entries] == [
        ([], [str(first.pk)]),
        ([str(first.pk)], ids),
        (ids, [str(second.pk)]),
    ]
    assert {(e.action, e.user_id, e.reason, e.property_id) for e in entries} == {
        ("update", clerk.pk, "import", owner.property_id)
    }
    owner.refresh_from_db()
    assert owner.version == 4  # each change of links moved the owner's version


def test_it_refuses_a_form_opened_before_the_amenities_changed_elsewhere(admin_client: Client):
    room = RoomFactory()
    minibar = AmenityFactory(property=room.property, name="Minibar")
    with context(user=UserFactory(first_name="João", last_name="Silva")):
        room.amenities.add(minibar)  # e.g. a script, while the form below was open at version 1

    page = admin_client.post(
        reverse("admin:stayos_room_change", args=[room.pk]),
        room_change_data(room, 1),  # no amenity ticked
    ).content.decode()

    assert "Not saved" in page
    assert "Amenities: — → Minibar (João Silva)" in page
    assert list(room.amenities.all()) == [minibar]


@pytest.mark.django_db(transaction=True)
def test_it_chains_link_changes_made_at_the_same_time():
    """The second writer's "before" is the first one's "after", whoever commits first."""
    room = RoomFactory()
    minibar = AmenityFactory(property=room.property, name="Minibar")
    balcony = AmenityFactory(property=room.property, name="Balcony")
    first_added = threading.Event()
    may_commit = threading.Event()
    second_pid: list[int] = []
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                Room.objects.get(pk=room.pk).amenities.add(minibar)
                first_added.set()
                # Commit only once the second writer has inserted its link and waits on the
                # room's lock (taken by our trigger): the interleaving under test.
                assert may_commit.wait(timeout=30)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    def second() -> None:
        try:
            assert first_added.wait(timeout=30)
            with transaction.atomic():
                second_pid.append(connection.cursor().connection.info.backend_pid)
                Room.objects.get(pk=room.pk).amenities.add(balcony)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    with connection.cursor() as cursor:
        # Polled until true, not slept on: the order is what the test needs, not the time.
        # (Should the second writer not wait at all, it ends, and the chain below fails.)
        while threads[1].is_alive():
            cursor.execute(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                [second_pid[0] if second_pid else 0],
            )
            row = cursor.fetchone()
            if row and row[0]:
                break
    may_commit.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors

    both = sorted([str(minibar.pk), str(balcony.pk)])
    assert [(e.old["amenities"], e.new["amenities"]) for e in _link_entries(room)] == [
        ([], [str(minibar.pk)]),
        ([str(minibar.pk)], both),
    ]
