"""Domain events: facts of the business, recorded in the transaction that made them true."""

from __future__ import annotations

import json
from typing import Any

import pgtrigger
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

from audit.triggers import CONTEXT_COLUMNS, CONTEXT_VALUES

_INSERT = (
    "INSERT INTO domain_event (name, aggregate_type, aggregate_id, property_id, payload,"
    f" {', '.join(CONTEXT_COLUMNS)})"
    f" SELECT %s, %s, %s, %s, %s::jsonb, {CONTEXT_VALUES} FROM audit_current() AS ctx"
)


class EventOutsideTransactionError(RuntimeError):
    """An event must commit or roll back together with the change it describes."""


def event_record(*, name: str, aggregate: models.Model, payload: dict[str, Any]) -> None:
    """Record ``name`` (e.g. ``room.status_changed``) about ``aggregate`` in this transaction.

    Who/where come from ``audit.context`` like the audit log's. Call it inside the service's
    ``transaction.atomic`` block; outside one it raises ``EventOutsideTransactionError``.
    """
    if not connection.in_atomic_block:
        raise EventOutsideTransactionError(f"{name} recorded outside a transaction")
    property_id = getattr(aggregate, "property_id", None)
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT,
            [
                name,
                aggregate._meta.label_lower,
                aggregate.pk,
                property_id,
                json.dumps(payload, cls=DjangoJSONEncoder),
            ],
        )


def event_on_change(
    *, name: str, event: str, field: str, payload: dict[str, str]
) -> pgtrigger.Trigger:
    """A trigger recording ``event`` about each row whose ``field`` an UPDATE changed.

    For facts that are nothing more than a column's new value (a room's housekeeping status):
    written by the database, every path that changes the column (a change form, an admin
    action, ``QuerySet.update()``, raw SQL) records the event exactly once per changed row.
    ``payload`` maps keys to SQL expressions over ``OLD``/``NEW``. Who/where come from
    ``audit_current()`` like the audit log's; the aggregate is the row itself, and the event's
    property its ``property_id``.
    """
    values = ", ".join(f"'{key}', {expression}" for key, expression in payload.items())
    return pgtrigger.Trigger(
        name=name,
        when=pgtrigger.After,
        operation=pgtrigger.Update,
        # The WHEN clause skips the call outright for UPDATEs that leave the field alone.
        condition=pgtrigger.AnyChange(field),
        func=pgtrigger.Func(
            f"""
            INSERT INTO domain_event (name, aggregate_type, aggregate_id, property_id, payload,
                {", ".join(CONTEXT_COLUMNS)})
            SELECT '{event}', '{{meta.label_lower}}', NEW.id, NEW.property_id,
                jsonb_build_object({values}), {CONTEXT_VALUES}
            FROM audit_current() AS ctx;
            RETURN NULL;
            """
        ),
    )
