"""POST data for admin change forms, as a browser tab would send them."""

from __future__ import annotations

from django import forms

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


def room_add_data(room: Room, **changes: object) -> dict:
    """A new room in ``room``'s property and type, with ``changes`` typed in."""
    data = room_change_data(room, 1, number="808", floor=8, housekeeping_status="clean")
    del data["version"]
    data.update(changes)
    return data


def as_posted(form: forms.BaseForm) -> dict:
    """The values a browser sends for ``form`` as rendered (ticked boxes only)."""
    data = {}
    for bound in form:
        value = bound.value()
        if isinstance(bound.field, forms.BooleanField):
            if value:
                data[bound.html_name] = "on"
            continue
        if value is None:
            continue
        if isinstance(value, list | tuple):
            data[bound.html_name] = [str(item) for item in value]
        else:
            data[bound.html_name] = str(value)
    return data
