"""Every range-partitioned table, in one place, for psqlextra's partitioning manager.

Monthly partitions; how many months ahead comes from the environment. A table joins the
machinery with one entry in ``PARTITIONED_TABLES``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from psqlextra.partitioning import (
    PostgresCurrentTimePartitioningStrategy,
    PostgresPartitioningConfig,
    PostgresPartitioningManager,
    PostgresTimePartitionSize,
)

from audit.models import AuditLog, DomainEvent


class MonthlyStrategy(PostgresCurrentTimePartitioningStrategy):
    """Monthly partitions bounded at midnight UTC on the 1st.

    psqlextra's strategy keeps the current hour in the bounds (a partition from
    ``2026-11-01 23:00``), so a run at another hour would try to create an overlapping one.
    """

    def get_start_datetime(self) -> datetime:
        return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def monthly(model: type) -> PostgresPartitioningConfig:
    return PostgresPartitioningConfig(
        model=model,
        strategy=MonthlyStrategy(
            size=PostgresTimePartitionSize(months=1),
            count=settings.PARTITIONS_MONTHS_AHEAD + 1,  # this month and the ones ahead
        ),
    )


PARTITIONED_TABLES = [monthly(AuditLog), monthly(DomainEvent)]

manager = PostgresPartitioningManager(PARTITIONED_TABLES)
