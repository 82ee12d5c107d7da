"""The one audit trigger builder every audited table uses.

``audit_triggers(model)`` returns AFTER INSERT / UPDATE / DELETE triggers that write one
``audit_log`` row per affected row, with the old and new row images as jsonb, the changed
columns, and the who/where of ``audit.context`` (read through ``audit_current()``).

They are statement-level triggers over transition tables by default: one INSERT … SELECT
per statement instead of one INSERT per row, which is what makes a 100k-row UPDATE
affordable (``make bench`` compares both levels). The changed columns are computed with
typed, per-column ``IS DISTINCT FROM`` comparisons generated from the model, which costs a
fraction of diffing two jsonb documents. An UPDATE that only moves the bookkeeping columns
(``version``, ``updated_at``, ``updated_by``) writes nothing.
"""

from __future__ import annotations

import pgtrigger
from django.db import models

# Statements touching more rows than this plan their audit insert afresh (see AuditTrigger).
PLAN_PER_STATEMENT_ABOVE = 64

# Columns the row triggers own: a change to them alone is not a change anyone made.
BOOKKEEPING_FIELDS = ("version", "updated_at", "updated_by")

# Who/where columns, filled from audit_current() AS ctx (the audit log's and the events').
CONTEXT_COLUMNS = ("user_id", "ip", "user_agent", "session_key", "request_id", "source", "reason")
CONTEXT_VALUES = ", ".join(f"ctx.{column}" for column in CONTEXT_COLUMNS)

_TARGET = (
    "INSERT INTO audit_log (table_name, row_id, action, old, new, changed_fields, property_id,"
    f" {', '.join(CONTEXT_COLUMNS)}, transaction_id)"
)
_CONTEXT = f"{CONTEXT_VALUES}, ctx.transaction_id"


def _compared_columns(model: type[models.Model]) -> list[str]:
    return [
        field.column
        for field in model._meta.concrete_fields
        if field.name not in BOOKKEEPING_FIELDS
    ]


def redacted_columns(model: type[models.Model]) -> list[str]:
    """Columns whose values stay out of the audit log (``audit_redacted_fields`` on the model).

    Personal data that a guest may ask to be erased cannot live in an append-only log: the
    log records that such a column changed (``changed_fields``), never its values.
    """
    names = getattr(model, "audit_redacted_fields", ())
    return [model._meta.get_field(name).column for name in names]


def _row_image(alias: str, redacted: tuple[str, ...]) -> str:
    if not redacted:
        return f"to_jsonb({alias})"
    keys = ", ".join(f"'{column}'" for column in redacted)
    return f"(to_jsonb({alias}) - ARRAY[{keys}]::text[])"


def _property_column(model: type[models.Model]) -> str | None:
    names = {field.name for field in model._meta.concrete_fields}
    if "property" in names:
        return "property_id"
    if model._meta.label == "stayos.Property":
        return "id"
    return None


class AuditTrigger(pgtrigger.Composer):
    """AFTER trigger writing audit rows for one operation, at row or statement level."""

    when = pgtrigger.After

    def __init__(self, *, redacted: tuple[str, ...] = (), **kwargs: object) -> None:
        # Resolved from the real model when registered: migrations compile triggers against
        # historical models, which do not carry ``audit_redacted_fields``.
        self.redacted = tuple(redacted)
        super().__init__(**kwargs)

    def get_declare(self, model: type[models.Model]) -> list[tuple[str, str]]:
        return [("jit_was", "text")] if self.level == pgtrigger.Statement else []

    def get_func(self, model: type[models.Model]) -> pgtrigger.Func:
        if self.level == pgtrigger.Statement:
            return self._statement_func(model)
        return pgtrigger.Func(
            f"{self._insert(model, 'OLD', 'NEW', 'TG_TABLE_NAME')};\nRETURN NULL;"
        )

    def _insert(self, model: type[models.Model], old: str, new: str, table: str) -> str:
        """INSERT … SELECT of the audit rows, reading ``old``/``new`` (records or tables)."""
        statement = self.level == pgtrigger.Statement
        pk = model._meta.pk.column
        property_column = _property_column(model)
        old_image, new_image = _row_image(old, self.redacted), _row_image(new, self.redacted)
        # The context, once per statement (OFFSET 0 keeps it from being inlined per row).
        ctx = (
            "(SELECT * FROM audit_current() OFFSET 0) AS ctx"
            if statement
            else "audit_current() AS ctx"
        )
        if self.operation == pgtrigger.Update:
            changes = ", ".join(
                f'CASE WHEN {old}."{column}" IS DISTINCT FROM {new}."{column}"'
                f" THEN '{column}' END"
                for column in _compared_columns(model)
            )
            pairs = f'{old} JOIN {new} ON {old}."{pk}" = {new}."{pk}"' if statement else ""
            property_value = f'{new}."{property_column}"' if property_column else "NULL"
            # The changed columns are computed once and double as the "anything changed?"
            # filter: an UPDATE of bookkeeping columns only leaves no row.
            rows = (
                f'(SELECT {new}."{pk}" AS row_id, {property_value} AS property_id,'
                f" {old_image} AS old_image, {new_image} AS new_image,"
                f" array_remove(ARRAY[{changes}]::varchar[], NULL) AS changed"
                + (f" FROM {pairs} OFFSET 0" if statement else "")
                + ") AS changes"
            )
            return (
                f"{_TARGET}\n"
                f"SELECT {table}, changes.row_id, 'update', changes.old_image,"
                f" changes.new_image, changes.changed, changes.property_id, {_CONTEXT}\n"
                f"FROM {ctx}, {rows}\nWHERE cardinality(changes.changed) > 0"
            )
        inserted = self.operation == pgtrigger.Insert
        image = new if inserted else old
        images = f"NULL, {new_image}" if inserted else f"{old_image}, NULL"
        property_value = f'{image}."{property_column}"' if property_column else "NULL"
        source = f", {image}" if statement else ""
        action = "insert" if inserted else "delete"
        return (
            f"{_TARGET}\n"
            f"SELECT {table}, {image}.\"{pk}\", '{action}', {images}, '{{{{}}}}'::varchar[],"
            f" {property_value}, {_CONTEXT}\n"
            f"FROM {ctx}{source}"
        )

    def _statement_func(self, model: type[models.Model]) -> pgtrigger.Func:
        # PL/pgSQL keeps a static statement's plan for the whole session. Planned at a first
        # call with one-row transition tables, the old/new join is a nested loop, and a later
        # 100k-row UPDATE on that connection turns quadratic (minutes). Large statements are
        # therefore EXECUTEd, planned for the rows they bring; small ones, where any join is
        # cheap, keep the cached plan and skip planning (most of a one-row UPDATE's cost).
        # JIT is off for the large ones: transition tables have no statistics, the planner
        # guesses the join at millions of rows, and compiling cost a third of a second.
        static = self._insert(model, "old_values", "new_values", "TG_TABLE_NAME")
        dynamic = self._insert(model, "old_values", "new_values", "$1").replace("'", "''")
        rows = "old_values" if self.operation == pgtrigger.Delete else "new_values"
        return pgtrigger.Func(
            f"IF EXISTS (SELECT FROM {rows} OFFSET {PLAN_PER_STATEMENT_ABOVE}) THEN\n"
            "    jit_was := current_setting('jit');\n"
            "    PERFORM set_config('jit', 'off', true);\n"
            f"    EXECUTE '{dynamic}' USING TG_TABLE_NAME;\n"
            "    PERFORM set_config('jit', jit_was, true);\n"
            f"ELSE\n    {static};\nEND IF;\n"
            "RETURN NULL;"
        )


def audit_triggers(
    model: type[models.Model], *, level: pgtrigger.Level = pgtrigger.Statement
) -> list[pgtrigger.Trigger]:
    """The audit triggers of one table; ``level`` is there for the benchmark's comparison."""
    changed = pgtrigger.AnyChange(exclude=list(BOOKKEEPING_FIELDS))
    redacted = tuple(redacted_columns(model))
    return [
        AuditTrigger(
            name="audit_insert", level=level, operation=pgtrigger.Insert, redacted=redacted
        ),
        AuditTrigger(
            name="audit_update",
            level=level,
            operation=pgtrigger.Update,
            # Row level: skip the call outright when nothing but bookkeeping changed.
            condition=changed if level == pgtrigger.Row else None,
            redacted=redacted,
        ),
        AuditTrigger(
            name="audit_delete", level=level, operation=pgtrigger.Delete, redacted=redacted
        ),
    ]


class RelationAuditTrigger(pgtrigger.Composer):
    """AFTER statement trigger on a many-to-many link table: the change belongs to its owner.

    Adding an amenity to a room inserts a row into the link table (``stayos_room_amenities``),
    whose rows have bigint ids and no property of their own. What changed, for the people
    reading the history, is the room: so the audit row is written under the owner's table and
    id, as an ``update`` of the field (``changed_fields = ['amenities']``), with the related ids
    before and after (sorted) and the owner's property. The owner's version moves too, so a
    change form opened before the link changed is refused like any other stale edit, and the
    new version goes into the audit row (the conflict message lists changes after a version).

    One trigger per operation (transition tables allow one event each); every path that writes
    the link table (``add``/``remove``/``set``/``clear``, admin forms, raw SQL) goes through it.
    """

    when = pgtrigger.After

    def __init__(self, *, field_name: str, **kwargs: object) -> None:
        self.field_name = field_name
        super().__init__(level=pgtrigger.Statement, **kwargs)

    def get_func(self, model: type[models.Model]) -> pgtrigger.Func:
        # ``model`` is the link table; its creator is the model declaring the field.
        owner = model._meta.auto_created
        field = owner._meta.get_field(self.field_name)
        source = model._meta.get_field(field.m2m_field_name()).column
        target = model._meta.get_field(field.m2m_reverse_field_name()).column
        owner_table, owner_pk = owner._meta.db_table, owner._meta.pk.column
        link_table = model._meta.db_table
        property_column = _property_column(owner)
        property_value = f'owner."{property_column}"' if property_column else "NULL"
        links = {
            pgtrigger.Insert: [("new_values", "true")],
            pgtrigger.Delete: [("old_values", "false")],
            pgtrigger.Update: [("new_values", "true"), ("old_values", "false")],
        }[self.operation]
        changed_rows = " UNION ALL ".join(
            f'SELECT "{source}" AS owner_id, "{target}" AS related_id, {added} AS added'
            f" FROM {table}"
            for table, added in links
        )
        owners = " UNION ".join(f'SELECT "{source}" FROM {table}' for table, _ in links)
        if not any(f.name == "version" for f in owner._meta.concrete_fields):
            raise ValueError(f"{owner._meta.label} has no version for its links to bump")
        # Lock the owners first, in a statement of its own: two transactions changing one
        # room's amenities then take turns, and the next statement's snapshot sees the set as
        # the previous one committed it, so each audit row's "before" is the last one's "after".
        # (The owner's bump_version trigger owns the value; the SET only makes it an UPDATE.)
        lock = f'UPDATE {owner_table} SET version = version + 1 WHERE "{owner_pk}" IN ({owners})'
        current = (
            f'SELECT link."{target}" FROM {link_table} AS link'
            f' WHERE link."{source}" = changes.owner_id'
        )
        return pgtrigger.Func(
            f"{lock};\n"
            f"{_TARGET}\n"
            f"SELECT '{owner_table}', owner.\"{owner_pk}\", 'update',"
            f" jsonb_build_object('{self.field_name}', before.ids),"
            f" jsonb_build_object('{self.field_name}', after.ids, 'version', owner.version),"
            f" ARRAY['{self.field_name}']::varchar[], {property_value}, {_CONTEXT}\n"
            "FROM (SELECT * FROM audit_current() OFFSET 0) AS ctx,\n"
            "  (SELECT owner_id, array_agg(related_id) FILTER (WHERE added) AS added,"
            " array_agg(related_id) FILTER (WHERE NOT added) AS removed"
            f" FROM ({changed_rows}) AS link_rows GROUP BY owner_id) AS changes\n"
            f'  JOIN {owner_table} AS owner ON owner."{owner_pk}" = changes.owner_id,\n'
            "  LATERAL (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]') AS ids"
            f" FROM ({current}) AS now_linked(id)) AS after,\n"
            # Before = now, less what this statement added, plus what it removed.
            "  LATERAL (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]') AS ids FROM"
            f" ({current} EXCEPT SELECT unnest(changes.added)"
            " UNION SELECT unnest(changes.removed)) AS was_linked(id)) AS before\n"
            "WHERE before.ids IS DISTINCT FROM after.ids;\n"
            "RETURN NULL;"
        )


def relation_audit_triggers(field: models.ManyToManyField) -> list[pgtrigger.Trigger]:
    """The audit triggers of a many-to-many field's link table (register them on its through)."""
    return [
        RelationAuditTrigger(name=f"audit_{operation}", operation=op, field_name=field.name)
        for operation, op in (
            ("insert", pgtrigger.Insert),
            ("update", pgtrigger.Update),
            ("delete", pgtrigger.Delete),
        )
    ]
