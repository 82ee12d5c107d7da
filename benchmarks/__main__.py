"""Run every benchmark (``make bench``), or those named: ``python -m benchmarks audit_triggers``.

Set-up order matters: the scratch database is created and ``settings.DATABASES`` pointed at
it before ``django.setup()``, so Django never connects to the developer's database;
then ``migrate`` builds the schema there (audit_log and its partitions, the SQL functions
the triggers call) and the benchmark modules are imported, once the app registry is ready.
"""

from __future__ import annotations

import importlib
import logging
import os
import platform
import signal
import sys
import time

from benchmarks import scratch

# Each module exposes run(database: ScratchDatabase); they run in this order.
BENCHMARKS = ["audit_triggers", "admin_lists"]


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    selected = [name for name in BENCHMARKS if not names or name in names]
    # Progress shows line by line under make, whose stdout is a pipe.
    sys.stdout.reconfigure(line_buffering=True)
    # A SIGTERM (Ctrl-C in with-services.sh, a CI timeout) unwinds like Ctrl-C, so the
    # scratch database and its gigabyte of audit rows are still dropped on the way out.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    # Django is imported here, after the settings module is chosen and before setup().
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    server = dict(settings.DATABASES["default"])
    started = time.perf_counter()
    database = scratch.recreate(server)
    try:
        settings.DATABASES["default"]["NAME"] = scratch.SCRATCH_NAME
        django.setup()
        # post_migrate hooks log what they create (partitions); not the benchmarks' business.
        logging.disable(logging.INFO)
        call_command("migrate", verbosity=0)
        logging.disable(logging.NOTSET)
        # Django's connection is done; the benchmarks use their own psycopg connections.
        connections.close_all()
        print_header(database, time.perf_counter() - started)
        for name in selected:
            module = importlib.import_module(f"benchmarks.{name}")
            print()
            module.run(database)
    finally:
        connections.close_all()
        scratch.drop(server)
    print()
    print(f"benchmarks done in {time.perf_counter() - started:.0f}s")
    return 0


def print_header(database: scratch.ScratchDatabase, setup_seconds: float) -> None:
    """What the numbers were measured on: server version and the settings that move them."""
    with database.connect() as connection:
        version = connection.execute("SHOW server_version").fetchone()
        settings = dict(
            connection.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN"
                " ('fsync', 'synchronous_commit', 'shared_buffers', 'max_wal_size')"
            ).fetchall()
        )
    assert version is not None
    print(f"StayOS benchmarks: PostgreSQL {version[0]}, Python {platform.python_version()},")
    print(f"  {os.cpu_count()} CPUs, scratch database {database.params['dbname']!r}", end="")
    print(f" (created and migrated in {setup_seconds:.1f}s)")
    print("  " + ", ".join(f"{name}={value}" for name, value in sorted(settings.items())))
    print("  every figure is relative to a baseline measured in this run; absolute")
    print("  times depend on the machine and are printed for context only")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
