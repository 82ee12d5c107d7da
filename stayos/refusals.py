"""One table from each database refusal to the field it concerns and the message staff read.

PostgreSQL keeps every rule (named constraints, exclusion constraints, triggers raising with a
``CONSTRAINT`` name); when it refuses a write, the error names the rule. ``refusal_for`` turns
that name back into a field and a sentence, so every admin form and inline formset shows a
database refusal as a form error on the right field instead of a server error.

The table is built from the models themselves: each ``Meta.constraints`` entry contributes its
``violation_error_message`` and the fields it reads; ``same_property`` triggers contribute
theirs. Rules that live only in trigger code register with ``register_refusal``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator

import pgtrigger
from django.apps import apps
from django.db import DatabaseError, models
from django.db.models.expressions import BaseExpression

# PostgreSQL error classes (SQLSTATE) for a value the column cannot hold.
_BAD_VALUE = {
    "22001": "This value is too long.",
    "22003": "This number is out of range.",
    "22007": "This date or time is not valid.",
    "22008": "This date or time is out of range.",
    "22021": "This text holds a character that cannot be stored.",
    "22P02": "This value is not valid.",
    "22P05": "This text holds a character that cannot be stored (a NUL byte).",
    "23502": "This field is required.",
}
_FALLBACK = "The database refused this change."


@dataclasses.dataclass(frozen=True)
class Refusal:
    """Where a refusal shows (``field`` None: on the form as a whole) and what it says."""

    field: str | None
    message: str


_registered: dict[str, Refusal] = {}


def register_refusal(constraint: str, *, field: str | None, message: str) -> None:
    """Name a rule that is kept by trigger code rather than a declared constraint."""
    _registered[constraint] = Refusal(field=field, message=message)
    _declared.cache_clear()


def _referenced_fields(node: object) -> Iterator[str]:
    """Field names a constraint's condition or expressions read, in order of appearance."""
    if isinstance(node, models.Q):
        for child in node.children:
            yield from _referenced_fields(child)
    elif isinstance(node, tuple) and len(node) == 2 and isinstance(node[0], str):
        yield node[0].split("__")[0]  # a Q child: ("valid_to__gte", F("valid_from"))
        yield from _referenced_fields(node[1])
    elif isinstance(node, tuple | list):
        for item in node:
            yield from _referenced_fields(item)
    elif isinstance(node, str):
        yield node
    elif isinstance(node, models.F):
        yield node.name.split("__")[0]
    elif isinstance(node, BaseExpression):
        for source in node.get_source_expressions():
            yield from _referenced_fields(source)


def _constraint_field(model: type[models.Model], constraint: models.BaseConstraint) -> str | None:
    # A field of its own beats the tenant column every row carries: "code" is what to fix in
    # (property, code), not the property.
    overrides = getattr(model, "refusal_fields", {})
    if constraint.name in overrides:
        return overrides[constraint.name]
    if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
        names = list(constraint.fields)
    elif isinstance(constraint, models.CheckConstraint):
        names = list(_referenced_fields(constraint.condition))
    else:  # ExclusionConstraint and friends: the last expression is the one that clashes
        expressions = getattr(constraint, "expressions", [])
        names = list(_referenced_fields(expressions[-1][0])) if expressions else []
    known = {field.name for field in model._meta.get_fields()}
    names = [name for name in names if name in known]
    own = [name for name in names if name != "property"]
    return (own or names or [None])[0]


@functools.cache
def _declared() -> dict[str, Refusal]:
    table: dict[str, Refusal] = {}
    for model in apps.get_models():
        for constraint in model._meta.constraints:
            table[constraint.name] = Refusal(
                field=_constraint_field(model, constraint),
                message=str(constraint.get_violation_error_message()).replace(
                    "%(name)s", constraint.name
                ),
            )
    for model, trigger in pgtrigger.registered():
        if trigger.name == "same_property" and model._meta.auto_created:
            # A many-to-many link (stayos.triggers.SameProperty): shown on the owner's field.
            field = model._meta.auto_created._meta.get_field(trigger.field_name)
            table[f"{model._meta.db_table}_same_property"] = Refusal(
                field=field.name,
                message=f"Choose {field.verbose_name} of the same property.",
            )
        elif trigger.name.startswith("same_property_"):
            field_name = trigger.name.removeprefix("same_property_")
            related = model._meta.get_field(field_name)
            table[f"{model._meta.db_table}_{field_name}_same_property"] = Refusal(
                field=field_name,
                message=f"Choose a {related.verbose_name} of the same property.",
            )
    return {**table, **_registered}


def refusal_for(error: DatabaseError) -> Refusal:
    """The field and message for a database refusal (``IntegrityError``, ``DataError``, …)."""
    diag = getattr(error.__cause__, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if constraint and constraint in _declared():
        return _declared()[constraint]
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    column = getattr(diag, "column_name", None)
    if constraint:
        # A rule nobody described: say which one, not the statement (it may hold data).
        return Refusal(field=column, message=f"{_FALLBACK} (rule “{constraint}”)")
    return Refusal(field=column, message=_BAD_VALUE.get(sqlstate, _FALLBACK))
