"""Every table holding domain data carries its version and audit triggers, installed."""

from __future__ import annotations

import pgtrigger
import pytest
from django.apps import apps
from django.db import connection, models
from pgtrigger.core import INSTALLED

pytestmark = pytest.mark.django_db

STAYOS_APPS = ("audit", "stayos", "guests", "reservations", "billing")

# A tracked row: the database owns its version and bookkeeping, and audits every change.
ROW_TRIGGERS = ("bump_version", "stamp_insert", "audit_insert", "audit_update", "audit_delete")
# A many-to-many link table: each change is audited under the owning row, whose version it
# moves (audit.triggers.RelationAuditTrigger); link rows themselves carry no version.
LINK_TRIGGERS = ("audit_insert", "audit_update", "audit_delete")

# Tables that are not domain data, each with the reason. Anything else must be audited.
NOT_DOMAIN_DATA = {
    # The audit log itself and the event stream: append-only by their own triggers; auditing
    # them would audit the audit.
    "audit.AuditLog",
    "audit.DomainEvent",
    # The daily seals over the audit log: append-only, and checked by `manage.py audit verify`.
    "audit.AuditSeal",
    # Operational record of background jobs (partition maintenance, seals), not business data.
    "audit.JobRun",
}


def _tables() -> list[type[models.Model]]:
    return [
        model
        for label in STAYOS_APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]


def _partitions(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH RECURSIVE tree(oid) AS (
                SELECT inhrelid FROM pg_inherits WHERE inhparent = %s::regclass
                UNION ALL
                SELECT inhrelid FROM pg_inherits JOIN tree ON inhparent = tree.oid)
            SELECT oid::regclass::text FROM tree
            """,
            [table],
        )
        return [name for (name,) in cursor.fetchall()]


def _enabled_triggers(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgenabled <> 'D'",
            [table],
        )
        return {name for (name,) in cursor.fetchall()}


def _link_rules(link: type[models.Model]) -> tuple[str, ...]:
    # A link between two property-scoped rows also keeps them in one property.
    (field,) = [
        field
        for field in link._meta.auto_created._meta.local_many_to_many
        if field.remote_field.through is link
    ]
    scoped = all(
        any(f.name == "property" for f in model._meta.concrete_fields)
        for model in (field.model, field.related_model)
    )
    return (*LINK_TRIGGERS, "same_property") if scoped else LINK_TRIGGERS


def _problems(model: type[models.Model]) -> list[str]:
    label = model._meta.label
    wanted = _link_rules(model) if model._meta.auto_created else ROW_TRIGGERS
    problems = []
    for name in wanted:
        try:
            [(_, trigger)] = pgtrigger.registered(f"{label}:{name}")
        except KeyError:
            problems.append(f"{label}: {name} is not declared")
            continue
        status, enabled = trigger.get_installation_status(model)
        if (status, enabled) != (INSTALLED, True):
            # OUTDATED: the declaration changed and no migration installed the new version.
            problems.append(f"{label}: {name} is {status.lower()}, enabled={enabled}")
        pgid = trigger.get_pgid(model)
        for partition in _partitions(model._meta.db_table):
            if pgid not in _enabled_triggers(partition):
                problems.append(f"{label}: {name} missing on partition {partition}")
    return problems


def test_every_table_holding_domain_data_carries_its_version_and_audit_triggers():
    tables = [model for model in _tables() if model._meta.label not in NOT_DOMAIN_DATA]
    # The link tables Django creates for many-to-many fields are covered, not skipped.
    assert "stayos.Room_amenities" in {model._meta.label for model in tables}

    problems = [problem for model in tables for problem in _problems(model)]

    assert not problems, "\n".join(problems)


def test_the_allow_list_names_only_tables_that_exist():
    assert {model._meta.label for model in _tables()} >= NOT_DOMAIN_DATA
