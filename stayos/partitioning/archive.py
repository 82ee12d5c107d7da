"""Archive a partition to a gzip CSV with a SHA-256 manifest; verify it; restore it."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import gzip
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from django.db import connection, transaction
from psycopg import sql


@dataclasses.dataclass(frozen=True)
class Manifest:
    table: str
    partition: str
    start: str
    end: str
    rows: int
    columns: list[str]
    order_by: list[str]
    csv_sha256: str  # of the uncompressed CSV, header included
    file: str
    file_sha256: str
    archived_at: str

    @classmethod
    def load(cls, path: Path) -> Manifest:
        return cls(**json.loads(path.read_text()))


class ArchiveError(Exception):
    """An archive that cannot be trusted: the partition is not dropped / not restored."""


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_out(query: sql.Composable, sink) -> int:
    """COPY (query) TO STDOUT as CSV with a header into ``sink``; returns the row count."""
    with connection.cursor() as cursor:
        raw = cursor.cursor
        copy_sql = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(query)
        with raw.copy(copy_sql) as copy:
            for data in copy:
                sink(bytes(data))
        return raw.rowcount


def _ordered_select(relation: str, order_by: list[str]) -> sql.Composable:
    return sql.SQL("SELECT * FROM {} ORDER BY {}").format(
        sql.Identifier(relation), sql.SQL(", ").join(map(sql.Identifier, order_by))
    )


def _write_durably(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through a temporary file, fsync it, and only then give it its name.

    The name is claimed exclusively: an archive is never overwritten (a month archived twice,
    e.g. after back-dated rows arrived, gets a second file beside the first).
    """
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.link(partial, path)  # fails if the name exists
    partial.unlink()
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def archive_partition(
    *,
    table: str,
    partition: str,
    start: datetime.datetime,
    end: datetime.datetime,
    order_by: list[str],
    directory: Path,
) -> tuple[Path, Manifest]:
    """Write ``partition`` to ``directory/table/<partition>.<time>.csv.gz``, check it reads back.

    Call inside the transaction that will drop the partition, after locking it, so that what
    is archived is exactly what is dropped. Returns the manifest's path and content; both
    files are on disk (fsync'd) before this returns.
    """
    folder = directory / table
    folder.mkdir(parents=True, exist_ok=True)
    archived_at = datetime.datetime.now(datetime.UTC)
    stem = f"{partition}.{archived_at:%Y%m%dT%H%M%S%fZ}"
    path = folder / f"{stem}.csv.gz"
    digest = hashlib.sha256()
    rows = 0

    def write_archive(handle: BinaryIO) -> None:
        nonlocal rows
        with gzip.GzipFile(fileobj=handle, mode="wb") as archive:

            def sink(data: bytes) -> None:
                digest.update(data)
                archive.write(data)

            rows = _copy_out(_ordered_select(partition, order_by), sink)

    _write_durably(path, write_archive)
    with gzip.open(path, "rt", newline="") as handle:
        columns = next(csv.reader(handle))
    manifest = Manifest(
        table=table,
        partition=partition,
        start=start.isoformat(),
        end=end.isoformat(),
        rows=rows,
        columns=columns,
        order_by=order_by,
        csv_sha256=digest.hexdigest(),
        file=path.name,
        file_sha256=_sha256_file(path),
        archived_at=archived_at.isoformat(),
    )
    verify_archive(path, manifest)
    manifest_path = folder / f"{stem}.manifest.json"
    content = (json.dumps(dataclasses.asdict(manifest), indent=2) + "\n").encode()
    _write_durably(manifest_path, lambda handle: handle.write(content))
    return manifest_path, manifest


def verify_archive(path: Path, manifest: Manifest) -> None:
    """Read the whole file back: same bytes, same content hash, same number of rows."""
    if _sha256_file(path) != manifest.file_sha256:
        raise ArchiveError(f"{path}: file checksum differs from its manifest")
    digest = hashlib.sha256()
    with gzip.open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != manifest.csv_sha256:
        raise ArchiveError(f"{path}: content checksum differs from its manifest")
    with gzip.open(path, "rt", newline="") as handle:
        rows = sum(1 for _ in csv.reader(handle)) - 1
    if rows != manifest.rows:
        raise ArchiveError(f"{path}: {rows} rows in the file, {manifest.rows} archived")


@transaction.atomic
def restore_archive(manifest_path: Path, *, into: str) -> int:
    """Load an archived partition into a new table ``into`` (shaped like its parent).

    Verifies the file first and, after loading, that the table exports to the archived
    checksum. Returns the number of rows restored.
    """
    manifest = Manifest.load(manifest_path)
    path = manifest_path.parent / manifest.file
    verify_archive(path, manifest)
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)")
            .format(sql.Identifier(into), sql.Identifier(manifest.table))
            .as_string(cursor.connection)
        )
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
            sql.Identifier(into), sql.SQL(", ").join(map(sql.Identifier, manifest.columns))
        )
        with gzip.open(path, "rb") as handle, cursor.cursor.copy(copy_sql) as copy:
            for block in iter(lambda: handle.read(1 << 20), b""):
                copy.write(block)
    digest = hashlib.sha256()
    rows = _copy_out(_ordered_select(into, manifest.order_by), digest.update)
    if (rows, digest.hexdigest()) != (manifest.rows, manifest.csv_sha256):
        raise ArchiveError(f"{into}: restored rows do not match the archive's checksum")
    return rows


def export_checksum(relation: str, order_by: list[str]) -> tuple[int, str]:
    """Row count and SHA-256 of a table's CSV export, as an archive computes them."""
    digest = hashlib.sha256()
    rows = _copy_out(_ordered_select(relation, order_by), digest.update)
    return rows, digest.hexdigest()


__all__ = [
    "ArchiveError",
    "Manifest",
    "archive_partition",
    "export_checksum",
    "restore_archive",
    "verify_archive",
]
