"""Who and where a change comes from, carried into PostgreSQL for the triggers to read.

The current context lives in a ``ContextVar`` (so threads, asyncio tasks and Celery tasks each
have their own). A database execute wrapper installed on every connection sends it with
``set_config(..., is_local => true)`` in the same transaction as each write statement, so:

- triggers read it with ``current_setting('stayos.user_id', true)`` and friends;
- it vanishes at COMMIT/ROLLBACK, so nothing is left behind on a pooled connection;
- a write outside ``transaction.atomic`` (autocommit) is wrapped in a short transaction
  together with its context, so it is never written without it.

This is django-pghistory's idea (per-statement, transaction-local settings), done with a
separate parameterised statement instead of string-prefixing the SQL, so values need no
hand-escaping and psycopg 3's single-result cursors keep working.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
from collections.abc import Iterator
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


def _is_write(sql: str) -> bool:
    head = sql.lstrip(" \t\r\n(").split(None, 1)
    return bool(head) and head[0].lower() in _WRITE_VERBS


def _send(connection: BaseDatabaseWrapper, ctx: AuditContext) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, true), set_config(%s, %s, true)",
            [USER_SETTING, ctx.as_settings()[0], CONTEXT_SETTING, ctx.as_settings()[1]],
        )


def _execute_with_context(execute, sql, params, many, call_context):
    ctx = _current.get()
    if ctx is None or not isinstance(sql, str) or not _is_write(sql):
        return execute(sql, params, many, call_context)
    connection = call_context["connection"]
    if connection.in_atomic_block:
        _send(connection, ctx)
        return execute(sql, params, many, call_context)
    with transaction.atomic(using=connection.alias):
        _send(connection, ctx)
        return execute(sql, params, many, call_context)


def install_on_connection(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Add the context wrapper to a database connection once (connection_created handler)."""
    if _execute_with_context not in connection.execute_wrappers:
        connection.execute_wrappers.append(_execute_with_context)
