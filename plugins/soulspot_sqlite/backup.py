"""The database as a backup source: online snapshot, verify, atomic restore.

* ``snapshot(dest)``: SQLite's online backup API in one step (``pages=-1``) into a temp file in
  ``dest``, on its own connection (one read transaction: writers keep going, and nothing
  restarts the copy), switch the copy to rollback-journal mode so it is one self-contained
  file, rename it to ``soulspot.db``. The copy is staging for the backup archive, which is
  what gets fsynced: the copy itself is written without journal or syncs (~2x faster than
  ``VACUUM INTO``, which rebuilds every table and syncs; see ``bench/backup.py``).
* ``verify(src)``: ``PRAGMA integrity_check`` on the copy (read-only) and a readable
  ``schema_versions`` table.
* ``restore(src)``: verify, refuse a copy whose schema is newer than this code, copy it next
  to the live file, fsync, close every pooled connection, delete ``-wal``/``-shm`` (they belong
  to the old file and would be replayed into the new one), rename it into place. Migrating an
  older copy to this code's schema is the caller's next step (``Storage.upgrade()``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from soulspot.types import BackupSource

from .store import DB_FILENAME

if TYPE_CHECKING:  # pragma: no cover
    from .store import SqliteStorage

log = logging.getLogger("soulspot.sqlite")


class RestoreRefusedError(RuntimeError):
    """The copy cannot be restored (damaged, or written by newer code); nothing changed."""


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        _fsync_file(path)


def store_size(store: SqliteStorage) -> int:
    try:
        return Path(store.path or "").stat().st_size
    except OSError:
        return 0


def snapshot(store: SqliteStorage, dest: Path) -> None:
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    partial = dest / f".{DB_FILENAME}.partial"
    final = dest / DB_FILENAME
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(
        str(store.path), timeout=store.config.busy_timeout_ms / 1000.0, isolation_level=None
    )
    try:
        # read the pages through a memory map, not one read() each: ~1.4x faster copy
        source.execute(f"PRAGMA mmap_size = {store_size(store) + (1 << 20)}")
        copy = sqlite3.connect(str(partial), isolation_level=None)
        try:
            # a staging file: a crash leaves a partial copy the next backup deletes
            copy.execute("PRAGMA journal_mode = OFF")
            copy.execute("PRAGMA synchronous = OFF")
            source.backup(copy, pages=-1)
            copy.execute("PRAGMA journal_mode = DELETE")  # the source's header says WAL
        finally:
            copy.close()
    finally:
        source.close()
    os.replace(partial, final)


def _read_versions(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT plugin, version FROM schema_versions").fetchall()
    finally:
        conn.close()
    return {str(plugin): int(version) for plugin, version in rows}


def verify(src: Path) -> list[str]:
    path = Path(src) / DB_FILENAME
    if not path.is_file():
        return [f"{DB_FILENAME} is missing from {src}"]
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [f"{DB_FILENAME} is not a readable SQLite database: {exc}"]
    problems = [str(row[0]) for row in rows if row and row[0] != "ok"]
    if problems:
        return [f"{DB_FILENAME} integrity_check: {p}" for p in problems]
    try:
        _read_versions(path)
    except sqlite3.DatabaseError as exc:
        return [f"{DB_FILENAME} has no readable schema_versions table: {exc}"]
    return []


def restore(store: SqliteStorage, src: Path) -> None:
    source = Path(src) / DB_FILENAME
    problems = verify(Path(src))
    if problems:
        raise RestoreRefusedError("refusing to restore a damaged copy: " + "; ".join(problems))
    heads = store.head_versions()
    newer = {
        plugin: (version, heads[plugin])
        for plugin, version in _read_versions(source).items()
        if plugin in heads and version > heads[plugin]
    }
    if newer:
        what = ", ".join(f"{p} {v} > {h}" for p, (v, h) in sorted(newer.items()))
        raise RestoreRefusedError(
            f"refusing to restore: the copy was written by newer code (schema {what}); "
            "install that SoulSpot version to restore it"
        )
    target = Path(store.path or "")
    staging = target.with_name(f".{DB_FILENAME}.restoring")
    shutil.copyfile(source, staging)
    os.chmod(staging, 0o600)
    _fsync_file(staging)
    store.close()
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(staging, target)
    _fsync_dir(target.parent)
    log.info("database restored", extra={"source": str(source)})


def backup_source(store: SqliteStorage) -> BackupSource:
    return BackupSource(
        name="database",
        snapshot=lambda dest: snapshot(store, dest),
        restore=lambda src: restore(store, src),
        verify=verify,
        sensitive=False,
        schema_versions=store.schema_versions,
    )
