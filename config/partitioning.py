"""Every range-partitioned table, in one place.

Monthly partitions bounded at midnight UTC on the 1st; months ahead and retention per table
come from the environment (see settings). A table joins the nightly maintenance, the
``partitions`` command and the monitoring endpoints with one entry in ``PARTITIONED_TABLES``;
its model declares ``audit.models.partition_key_in_range(table, key)`` in
``Meta.constraints`` (the verify endpoint goes red without it) and a ``PartitionIdentityField``
``id``, which leads its primary key (the DEFAULT sweep walks it in batches).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from django.conf import settings
from psqlextra.models import PostgresPartitionedModel
from psqlextra.partitioning import (
    PostgresCurrentTimePartitioningStrategy,
    PostgresPartitioningConfig,
    PostgresPartitioningManager,
    PostgresTimePartitionSize,
)

from audit.models import AuditLog, DomainEvent


@dataclasses.dataclass(frozen=True)
class PartitionedTable:
    model: type[PostgresPartitionedModel]
    retention_setting: str  # name of the setting holding the retention, in months

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def retention_months(self) -> int:
        return getattr(settings, self.retention_setting)


PARTITIONED_TABLES = [
    PartitionedTable(AuditLog, "AUDIT_RETENTION_MONTHS"),
    PartitionedTable(DomainEvent, "EVENTS_RETENTION_MONTHS"),
]


class MonthlyStrategy(PostgresCurrentTimePartitioningStrategy):
    """This month's and the next months' partitions, bounded at midnight UTC on the 1st.

    psqlextra's strategy keeps the current hour in the bounds (a partition from
    ``2026-11-01 23:00``), so a run at another hour would try to create an overlapping one.
    Retention is not psqlextra's job here: it would DROP without archiving
    (``stayos.partitioning`` archives first), so no ``max_age``.
    """

    def __init__(self) -> None:
        super().__init__(size=PostgresTimePartitionSize(months=1), count=0)

    @property
    def count(self) -> int:
        return settings.PARTITIONS_MONTHS_AHEAD + 1

    @count.setter
    def count(self, value: int) -> None:  # the base class assigns it; the setting wins
        pass

    def get_start_datetime(self) -> datetime:
        return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


manager = PostgresPartitioningManager(
    [
        PostgresPartitioningConfig(model=t.model, strategy=MonthlyStrategy())
        for t in PARTITIONED_TABLES
    ]
)
