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

_TARGET = (
    "INSERT INTO audit_log (table_name, row_id, action, old, new, changed_fields, property_id,"
    " user_id, ip, user_agent, session_key, request_id, source, reason, transaction_id)"
)
_CONTEXT = (
    "ctx.user_id, ctx.ip, ctx.user_agent, ctx.session_key, ctx.request_id, ctx.source,"
    " ctx.reason, ctx.transaction_id"
)


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

    def get_func(self, model: type[models.Model]) -> pgtrigger.Func:
        statement = self.level == pgtrigger.Statement
        old, new = ("old_values", "new_values") if statement else ("OLD", "NEW")
        pk = model._meta.pk.column
        property_column = _property_column(model)

        old_image, new_image = _row_image(old, self.redacted), _row_image(new, self.redacted)
        if self.operation == pgtrigger.Insert:
            action, image, source = "insert", new, "{cond_new_values}"
            values = f"NULL, {new_image}, '{{{{}}}}'::varchar[]"
        elif self.operation == pgtrigger.Delete:
            action, image, source = "delete", old, "{cond_old_values}"
            values = f"{old_image}, NULL, '{{{{}}}}'::varchar[]"
        else:
            action, image, source = "update", new, "{cond_joined_values}"
            changes = ", ".join(
                f'CASE WHEN {old}."{column}" IS DISTINCT FROM {new}."{column}"'
                f" THEN '{column}' END"
                for column in _compared_columns(model)
            )
            values = f"{old_image}, {new_image}, array_remove(ARRAY[{changes}]::varchar[], NULL)"
        property_value = f'{image}."{property_column}"' if property_column else "NULL"
        from_clause = (
            f"audit_current() AS ctx, {source}" if statement else "audit_current() AS ctx"
        )
        insert = (
            f"{_TARGET}\n"
            f"SELECT {{table}}, {image}.\"{pk}\", '{action}', {values},"
            f" {property_value}, {_CONTEXT}\n"
            f"FROM {from_clause}"
        )
        static = insert.replace("{table}", "TG_TABLE_NAME")
        if not statement:
            return pgtrigger.Func(f"{static};\nRETURN NULL;")
        # PL/pgSQL keeps a static statement's plan for the whole session. Planned at a first
        # call with one-row transition tables, the old/new join is a nested loop, and a later
        # 100k-row UPDATE on that connection turns quadratic (minutes). Large statements are
        # therefore EXECUTEd, planned for the rows they bring; small ones, where any join is
        # cheap, keep the cached plan and skip planning (most of a one-row UPDATE's cost).
        dynamic = insert.replace("{table}", "$1").replace("'", "''")
        rows = image.replace("OLD", "old_values").replace("NEW", "new_values")
        return pgtrigger.Func(
            f"IF (SELECT count(*) FROM {rows}) > {PLAN_PER_STATEMENT_ABOVE} THEN\n"
            f"    EXECUTE '{dynamic}' USING TG_TABLE_NAME;\n"
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
            condition=changed,
            redacted=redacted,
        ),
        AuditTrigger(
            name="audit_delete", level=level, operation=pgtrigger.Delete, redacted=redacted
        ),
    ]
