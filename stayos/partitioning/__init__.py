"""Partitioned tables: what exists (catalog), upkeep (maintenance), archives, health checks."""
