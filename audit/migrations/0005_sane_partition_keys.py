import datetime

from django.db import migrations, models

# audit.models.partition_key_in_range on the two partitioned tables, added without holding
# the tables' ACCESS EXCLUSIVE lock for a scan: ADD ... NOT VALID is instantaneous and
# commits on its own (this migration is not atomic), VALIDATE then scans every partition
# under SHARE UPDATE EXCLUSIVE, which lets the application keep writing.
#
# Rows already outside the range (an 'infinity' that makes every maintenance run fail) are
# append-only and would make VALIDATE fail: they move, untouched, into
# <table>_out_of_range (same columns, not a partition), with a WARNING giving the count.
# Nothing is lost; an operator can read, archive or drop that table by hand.

FLOOR = "'2000-01-01 00:00:00+00'::timestamptz"
CEILING = "'2100-01-01 00:00:00+00'::timestamptz"

TABLES = {
    # table: the pgid of its append_only trigger (audit/migrations/0002), ignored for the move
    "audit_log": "pgtrigger_append_only_e464f",
    "domain_event": "pgtrigger_append_only_d51c0",
}


def _quarantine(table: str, trigger: str) -> str:
    outside = f"NOT (occurred_at >= {FLOOR} AND occurred_at < {CEILING})"
    return f"""
DO $$
DECLARE moved bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM {table} WHERE {outside}) THEN
        PERFORM set_config('pgtrigger.ignore', '{{{trigger}}}', true);
        CREATE TABLE IF NOT EXISTS {table}_out_of_range (LIKE {table} INCLUDING DEFAULTS);
        WITH gone AS (DELETE FROM {table} WHERE {outside} RETURNING *)
        INSERT INTO {table}_out_of_range SELECT * FROM gone;
        GET DIAGNOSTICS moved = ROW_COUNT;
        RAISE WARNING '{table}: % row(s) with occurred_at outside [2000-01-01, 2100-01-01) moved to {table}_out_of_range', moved;
    END IF;
END $$;
"""


def _add_constraint(table: str) -> str:
    name = f"{table}_occurred_at_in_range"
    return f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = '{table}'::regclass AND conname = '{name}') THEN
        ALTER TABLE {table} ADD CONSTRAINT {name}
            CHECK (occurred_at >= {FLOOR} AND occurred_at < {CEILING}) NOT VALID;
    END IF;
END $$;
"""


def _constraint(table: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=models.Q(
            ("occurred_at__gte", datetime.datetime(2000, 1, 1, 0, 0, tzinfo=datetime.UTC)),
            ("occurred_at__lt", datetime.datetime(2100, 1, 1, 0, 0, tzinfo=datetime.UTC)),
        ),
        name=f"{table}_occurred_at_in_range",
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("audit", "0004_inlinable_audit_current"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddConstraint(model_name="auditlog", constraint=_constraint("audit_log")),
                migrations.AddConstraint(
                    model_name="domainevent", constraint=_constraint("domain_event")
                ),
            ],
            database_operations=[
                operation
                for table, trigger in TABLES.items()
                for operation in (
                    migrations.RunSQL(_quarantine(table, trigger), migrations.RunSQL.noop),
                    migrations.RunSQL(
                        _add_constraint(table),
                        f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_occurred_at_in_range",
                    ),
                    migrations.RunSQL(
                        f"ALTER TABLE {table} VALIDATE CONSTRAINT {table}_occurred_at_in_range",
                        migrations.RunSQL.noop,
                    ),
                )
            ],
        ),
    ]
