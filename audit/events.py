"""Domain events: facts of the business, recorded in the transaction that made them true."""

from __future__ import annotations

import json
from typing import Any

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
