"""Partition upkeep the kernel runs for every partitioned table configured in ``config/``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.module_loading import import_string
from psqlextra.partitioning import PostgresPartitioningManager


def partitioning_manager() -> PostgresPartitioningManager:
    """The manager named by ``settings.PSQLEXTRA_PARTITIONING_MANAGER``."""
    return import_string(settings.PSQLEXTRA_PARTITIONING_MANAGER)


def create_partitions_ahead(*, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Create this month's and the coming months' missing partitions; drop nothing."""
    existing = set(connections[using].introspection.table_names())
    migrated = PostgresPartitioningManager(
        [c for c in partitioning_manager().configs if c.model._meta.db_table in existing]
    )
    plan = migrated.plan(skip_delete=True, using=using)
    plan.apply(using=using)
    return [partition.name() for partition in plan.creations]


def create_partitions_after_migrate(
    sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any
) -> None:
    """post_migrate: partitions are in place before anything writes to a partitioned table."""
    create_partitions_ahead(using=using)
