"""The scratch database every benchmark runs in: created for the run, migrated, then dropped.

It lives on the server ``DATABASE_URL`` names, under its own name, so the benchmarks can
create and bloat tables, fill ``audit_log`` (which is append-only: nothing may delete from it)
and drop the lot afterwards without touching the developer's database.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
from psycopg import sql

SCRATCH_NAME = "stayos_bench"

# Keys of Django's OPTIONS that are not libpq connection parameters.
_DJANGO_ONLY_OPTIONS = frozenset({"isolation_level", "server_side_binding", "pool", "assume_role"})


@dataclasses.dataclass(frozen=True)
class ScratchDatabase:
    """Connection parameters of the scratch database."""

    params: dict[str, Any]

    def connect(self) -> psycopg.Connection[Any]:
        """An autocommit connection with client-side binding, as Django's backend uses.

        Client-side binding (``ClientCursor``) is what lets ``audit.context`` send its
        ``set_config`` calls and the write in one query string: one round trip, one implicit
        transaction. The benchmarks send statements the same way.
        """
        return psycopg.connect(**self.params, autocommit=True, cursor_factory=psycopg.ClientCursor)


def libpq_params(database: dict[str, Any], dbname: str) -> dict[str, Any]:
    """libpq parameters for ``dbname`` on the server of a Django ``DATABASES`` entry."""
    params = {
        key: value
        for key, value in database.get("OPTIONS", {}).items()
        if key not in _DJANGO_ONLY_OPTIONS
    }
    for key, setting in (("user", "USER"), ("password", "PASSWORD"), ("host", "HOST")):
        if database.get(setting):
            params[key] = database[setting]
    if database.get("PORT"):
        params["port"] = int(database["PORT"])
    params["dbname"] = dbname
    return params


def _maintenance_connection(database: dict[str, Any]) -> psycopg.Connection[Any]:
    # CREATE/DROP DATABASE need a connection to some other database. "postgres" exists on
    # every stock server; the configured database is the fallback for hosted servers that
    # hide it (connecting there only reads nothing and writes nothing).
    try:
        return psycopg.connect(**libpq_params(database, "postgres"), autocommit=True)
    except psycopg.OperationalError:
        return psycopg.connect(**libpq_params(database, database["NAME"]), autocommit=True)


def recreate(database: dict[str, Any]) -> ScratchDatabase:
    """Drop the scratch database if a previous run left it behind, and create it empty."""
    if database["NAME"] == SCRATCH_NAME:
        raise RuntimeError(
            f"DATABASE_URL names {SCRATCH_NAME!r}, the benchmarks' scratch database: refusing"
            " to drop it. Point DATABASE_URL at the application database."
        )
    name = sql.Identifier(SCRATCH_NAME)
    with _maintenance_connection(database) as connection:
        # FORCE: a run killed half-way may have left a connection behind.
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(name))
    return ScratchDatabase(libpq_params(database, SCRATCH_NAME))


def drop(database: dict[str, Any]) -> None:
    """Drop the scratch database (with the gigabyte or so of audit rows the run wrote)."""
    with _maintenance_connection(database) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SCRATCH_NAME))
        )
