from django.db import migrations

# The function behind the TRUNCATE-refusing trigger that partition maintenance puts on every
# partition of an append-only table (stayos.partitioning.maintenance). Its argument is the id
# of the parent's own append_only_truncate trigger, so pgtrigger.ignore of that trigger (the
# blessed path) lets a TRUNCATE of the parent through its partitions too.
REFUSE_PARTITION_TRUNCATE = """
CREATE OR REPLACE FUNCTION audit_refuse_partition_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF _pgtrigger_should_ignore(TG_ARGV[0]::name) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is a partition of an append-only table: TRUNCATE refused', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0005_sane_partition_keys'),
    ]

    operations = [
        migrations.RunSQL(
            REFUSE_PARTITION_TRUNCATE,
            reverse_sql="DROP FUNCTION audit_refuse_partition_truncate()",
        ),
    ]
