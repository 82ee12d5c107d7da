"""Who and where a change comes from, carried into PostgreSQL for the triggers to read.

The current context lives in a ``ContextVar`` (so threads, asyncio tasks and Celery tasks each
have their own). A database execute wrapper installed on every connection sends it with
``set_config(..., is_local => true)`` in the same transaction as each write statement, so:

- triggers read it with ``current_setting('stayos.user_id', true)`` and friends;
- it vanishes at COMMIT/ROLLBACK, so nothing is left behind on a pooled connection;
- a write outside ``transaction.atomic`` (autocommit) is sent in one query string with its
  context, which PostgreSQL runs as one implicit transaction, so it is never written
  without it.

This is django-pghistory's idea (per-statement, transaction-local settings), with the values
sent as query parameters rather than spliced into the SQL, only for statements that can fire
triggers (reads pay nothing), and with psycopg 3's multi-result cursor moved on to the
statement's own result.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

USER_SETTING = "stayos.user_id"
CONTEXT_SETTING = "stayos.context"

# First keyword of statements that can fire row triggers.
_WRITE_VERBS = frozenset({"insert", "update", "delete", "merge", "with", "copy", "truncate"})


@dataclasses.dataclass(frozen=True)
class AuditContext:
    """Who is acting, from where and why; every field optional."""

    user_id: int | None = None
    ip: str | None = None
    user_agent: str | None = None
    session_key: str | None = None
    request_id: str | None = None
    source: str | None = None
    reason: str | None = None

    def as_settings(self) -> tuple[str, str]:
        details = {
            key: value
            for key, value in dataclasses.asdict(self).items()
            if key != "user_id" and value is not None
        }
        user = "" if self.user_id is None else str(self.user_id)
        return user, json.dumps(details, sort_keys=True)


_current: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar(
    "stayos_audit_context", default=None
)


def current() -> AuditContext | None:
    """The context in force for this thread or task, if any."""
    return _current.get()


@contextlib.contextmanager
def context(*, user: Any = None, **fields: Any) -> Iterator[AuditContext]:
    """Set who/where/why for every write inside the block; nested blocks refine the outer one.

    ``user`` may be a User instance or a user id. Other keyword arguments are the fields of
    ``AuditContext`` (``ip``, ``user_agent``, ``session_key``, ``request_id``, ``source``,
    ``reason``).
    """
    outer = _current.get() or AuditContext()
    changes = {key: value for key, value in fields.items() if value is not None}
    if user is not None:
        changes["user_id"] = getattr(user, "pk", user)
    token = _current.set(dataclasses.replace(outer, **changes))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


# Whitespace, parentheses and comments a statement may start with.
_LEADING = re.compile(r"(?:\s+|\(|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_NO_CONTEXT = AuditContext()


def _is_write(sql: str) -> bool:
    head = sql[_LEADING.match(sql).end() :].split(None, 1)
    return bool(head) and head[0].lower() in _WRITE_VERBS


_SET_CONTEXT = (
    "SELECT set_config('stayos.user_id', %s, true), set_config('stayos.context', %s, true)"
)
_SET_CONTEXT_NAMED = (
    "SELECT set_config('stayos.user_id', %(_stayos_user)s, true),"
    " set_config('stayos.context', %(_stayos_context)s, true)"
)


def _execute_with_context(execute, sql, params, many, call_context):
    cursor = call_context["cursor"].cursor
    if not isinstance(sql, str) or getattr(cursor, "name", None) or not _is_write(sql):
        return execute(sql, params, many, call_context)
    # Sent on every write, empty when no context is set: a write made after a
    # `with context(...)` block, in the same transaction, must not inherit its settings.
    user, details = (_current.get() or _NO_CONTEXT).as_settings()
    if many:
        # executemany cannot carry a prefix per parameter set: send the context first, in
        # the same transaction (opening one if the connection is in autocommit).
        connection = call_context["connection"]
        with transaction.atomic(using=connection.alias):
            cursor.execute(_SET_CONTEXT, [user, details])
            return execute(sql, params, many, call_context)
    # One round trip: the settings ride in front of the statement. Sent together, the two
    # run in one transaction even in autocommit, and end with it.
    if isinstance(params, Mapping):
        prefix = _SET_CONTEXT_NAMED
        params = {**params, "_stayos_user": user, "_stayos_context": details}
    else:
        prefix = _SET_CONTEXT
        if params is None:
            sql = sql.replace("%", "%%")
        params = [user, details, *(params or ())]
    result = execute(f"{prefix}; {sql}", params, many, call_context)
    while cursor.nextset():  # leave the cursor on the statement's own result
        pass
    return result


def install_on_connection(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Add the context wrapper to a database connection once (connection_created handler)."""
    if _execute_with_context not in connection.execute_wrappers:
        connection.execute_wrappers.append(_execute_with_context)


def send_context(cursor: Any) -> None:
    """Send the current context into the cursor's open transaction, for writes that bypass
    Django's execute wrappers (``cursor.copy()``); it ends with the transaction."""
    user, details = (_current.get() or _NO_CONTEXT).as_settings()
    cursor.execute(_SET_CONTEXT, [user, details])
