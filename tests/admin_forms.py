"""POST data for admin change forms, as a browser tab would send them."""

from __future__ import annotations

from stayos.models import Room


def room_change_data(room: Room, version: int, **changes: object) -> dict:
    """The room change form as opened at ``version``, with ``changes`` typed in."""
    data = {
        "property": room.property_id,
        "room_type": room.room_type_id,
        "number": room.number,
        "floor": room.floor,
        "housekeeping_status": room.housekeeping_status,
        "notes": room.notes,
        "version": version,
    }
    data.update(changes)
    return data
