from django.db import migrations

# SQL helpers the triggers of every app use to read the context that audit.context sends with
# each write (set_config(..., is_local => true)). current_setting(..., true) yields NULL before
# the setting was ever defined in the session and '' after a transaction that set it ended.
CREATE = """
CREATE OR REPLACE FUNCTION audit_context_user_id() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('stayos.user_id', true), '')::integer
$$;

CREATE OR REPLACE FUNCTION audit_context() RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('stayos.context', true), '')::jsonb, '{}'::jsonb)
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS audit_context();
DROP FUNCTION IF EXISTS audit_context_user_id();
"""


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []
    operations = [migrations.RunSQL(CREATE, DROP)]
