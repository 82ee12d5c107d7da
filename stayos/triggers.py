"""Trigger builders shared by every StayOS domain table (declared with django-pgtrigger).

The kernel registers ``row_triggers(model)`` on every concrete ``TrackedModel`` at start-up
(see ``stayos.apps``), so a model cannot forget them; migrations install them like any other
``Meta.triggers`` entry.
"""

from __future__ import annotations

import pgtrigger
from django.db import models

from audit.triggers import audit_triggers

# Owns the bookkeeping columns on UPDATE, whatever path the UPDATE took (ORM save, update(),
# raw SQL): version always moves forward by one, and who/when come from the database side.
BUMP_VERSION = pgtrigger.Trigger(
    name="bump_version",
    when=pgtrigger.Before,
    operation=pgtrigger.Update,
    func="""
        -- The audit log pairs old and new rows by id: an id never changes.
        IF NEW.id IS DISTINCT FROM OLD.id THEN
            RAISE EXCEPTION 'the id of a % row never changes', TG_TABLE_NAME
                USING ERRCODE = 'check_violation';
        END IF;
        NEW.version := OLD.version + 1;
        NEW.updated_at := now();
        NEW.updated_by_id := audit_context_user_id();
        NEW.created_at := OLD.created_at;
        NEW.created_by_id := OLD.created_by_id;
        RETURN NEW;
    """,
)

# Owns them on INSERT: every row starts at version 1, stamped by whoever the context names.
# An explicit created_by (e.g. a data import naming the original author) is kept when there
# is no context to contradict it.
STAMP_INSERT = pgtrigger.Trigger(
    name="stamp_insert",
    when=pgtrigger.Before,
    operation=pgtrigger.Insert,
    func="""
        NEW.version := 1;
        NEW.created_by_id := coalesce(audit_context_user_id(), NEW.created_by_id);
        NEW.updated_by_id := NEW.created_by_id;
        NEW.updated_at := NEW.created_at;
        RETURN NEW;
    """,
)


def row_triggers(model: type[models.Model]) -> list[pgtrigger.Trigger]:
    """The triggers every tracked table carries: bookkeeping, then the audit log."""
    return [BUMP_VERSION, STAMP_INSERT, *audit_triggers(model)]


def same_property(field_name: str) -> pgtrigger.Trigger:
    """Refuse a row whose foreign key ``field_name`` points into another property.

    Keeps one property's rooms from pointing at another property's room type, and so on;
    ``property`` is the tenant, and a reference across tenants would leak data between them.
    """
    return pgtrigger.Trigger(
        name=f"same_property_{field_name}",
        when=pgtrigger.Before,
        operation=pgtrigger.Insert | pgtrigger.UpdateOf(f"{field_name}_id", "property_id"),
        func=pgtrigger.Func(
            f"""
            IF NEW.{{columns.{field_name}}} IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM {{fields.{field_name}.related_model._meta.db_table}}
                WHERE id = NEW.{{columns.{field_name}}} AND property_id = NEW.property_id
            ) THEN
                RAISE EXCEPTION USING
                    ERRCODE = 'check_violation',
                    MESSAGE = '{{meta.db_table}}.{field_name} must belong to the same property',
                    CONSTRAINT = '{{meta.db_table}}_{field_name}_same_property';
            END IF;
            RETURN NEW;
            """
        ),
    )


class SameProperty(pgtrigger.Composer):
    """Refuse a many-to-many link between rows of two properties (a room and an amenity).

    Registered on the link table Django creates for a field of a property-scoped model whose
    target is property-scoped too; the refusal names ``<link table>_same_property``.
    """

    when = pgtrigger.Before

    def __init__(self, *, field_name: str, **kwargs: object) -> None:
        self.field_name = field_name
        super().__init__(
            name="same_property", operation=pgtrigger.Insert | pgtrigger.Update, **kwargs
        )

    def get_func(self, model: type[models.Model]) -> pgtrigger.Func:
        owner = model._meta.auto_created
        field = owner._meta.get_field(self.field_name)
        source = model._meta.get_field(field.m2m_field_name()).column
        target = model._meta.get_field(field.m2m_reverse_field_name()).column
        return pgtrigger.Func(
            f"""
            IF (SELECT property_id FROM {owner._meta.db_table} WHERE id = NEW."{source}")
                IS DISTINCT FROM
               (SELECT property_id FROM {field.related_model._meta.db_table}
                WHERE id = NEW."{target}") THEN
                RAISE EXCEPTION USING
                    ERRCODE = 'check_violation',
                    MESSAGE = '{model._meta.db_table} links rows of two properties',
                    CONSTRAINT = '{model._meta.db_table}_same_property';
            END IF;
            RETURN NEW;
            """
        )


def link_triggers(field: models.ManyToManyField) -> list[pgtrigger.Trigger]:
    """Rules of a many-to-many field's link table beyond its audit (register on its through)."""
    owner, target = field.model, field.related_model
    scoped = [
        model
        for model in (owner, target)
        if any(f.name == "property" for f in model._meta.concrete_fields)
    ]
    return [SameProperty(field_name=field.name)] if len(scoped) == 2 else []
