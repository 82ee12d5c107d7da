"""stayos_uuid7() increases strictly within a session, like PostgreSQL 18's uuidv7().

The first version put random bits right after the millisecond, so two ids made in the same
millisecond (any multi-row INSERT) sorted at random. Now the 12 bits after the millisecond
hold its fraction (RFC 9562, section 6.2, method 3) and a session never hands out a value at
or below its previous one.
"""

from django.db import migrations

MONOTONIC_UUID7_SQL = """
CREATE OR REPLACE FUNCTION stayos_uuid7() RETURNS uuid
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
    -- The clock in steps of 1/4096 ms: 48 bits of Unix time in ms, then 12 bits of fraction.
    now_us bigint := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
    tick bigint := (now_us / 1000) * 4096 + (now_us % 1000) * 4096 / 1000;
    -- The session's last tick; kept across transactions because ids must keep increasing.
    -- It carries no one's identity or rights, so a pooled connection may keep it.
    last_tick bigint := nullif(current_setting('stayos_uuid7.last_tick', true), '')::bigint;
BEGIN
    -- Several ids within one step (or a clock stepped back): one step past the last id.
    -- Calls take longer than a step (244 ns), so this never runs ahead of the clock for long.
    IF last_tick IS NOT NULL AND tick <= last_tick THEN
        tick := last_tick + 1;
    END IF;
    PERFORM set_config('stayos_uuid7.last_tick', tick::text, false);
    -- Bytes 0-5 the millisecond, 6-7 version 7 and the fraction; 8-15 stay random, with
    -- gen_random_uuid()'s RFC 9562 variant bits.
    RETURN encode(
        overlay(uuid_send(gen_random_uuid())
                PLACING substring(int8send(tick >> 12) FROM 3)
                        || int2send((28672 | (tick & 4095))::smallint)
                FROM 1 FOR 8),
        'hex')::uuid;
END
$$;
"""

RANDOM_TAIL_UUID7_SQL = """
CREATE OR REPLACE FUNCTION stayos_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    -- 48-bit Unix time in ms, then version 7 and variant bits over random bytes (RFC 9562).
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("stayos", "0008_links_stay_within_a_property"),
    ]

    operations = [
        migrations.RunSQL(MONOTONIC_UUID7_SQL, RANDOM_TAIL_UUID7_SQL),
    ]
