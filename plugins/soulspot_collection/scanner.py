"""The incremental scan: walk the music folders, read tags only where something changed.

A file whose size and modification time are what the last scan saw is not opened; a new or
changed one is read with tinytag; one that is gone is marked absent (its row stays, so the
owner's decisions about it keep their meaning). A file that cannot be read is kept with its
reason and the scan goes on. A music folder that cannot be entered (an unmounted disk) is
reported and its files are *not* marked removed. One scan at a time, across processes: an
exclusive ``flock`` on ``<data_dir>/collection-scan.lock``.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soulspot import api

from .models import LocalFile, Scan, rows
from .tags import UnreadableFile, read
from .walk import WalkReport, walk

Progress = Callable[[int, int], None]
_BATCH = 500


class ScanBusy(Exception):
    """Another scan is running (in this process or another one)."""


@dataclass
class ScanSummary:
    scan_id: int
    full: bool
    seen: int = 0
    read: int = 0
    new: int = 0
    changed: int = 0
    removed: int = 0
    unreadable: int = 0
    duration: float = 0.0
    problems: list[tuple[str, str]] = field(default_factory=list)
    loops: list[str] = field(default_factory=list)
    #: Files that are new, changed or gone: what a rematch must look at.
    changed_ids: set[int] = field(default_factory=set)


@contextmanager
def scan_lock(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScanBusy("a scan is already running; try again when it has finished") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def run_scan(
    roots: list[Path],
    file_types: list[str],
    follow_symlinks: bool,
    lock_path: Path,
    *,
    full: bool = False,
    progress: Progress | None = None,
) -> ScanSummary:
    """Scan ``roots`` into the store. Raises :class:`ScanBusy` when one is running."""
    store = api.storage()
    with scan_lock(lock_path), store.connection():
        started = time.time()
        with store.write_transaction():
            scan_row = Scan.create(started_at=started, status="running", full=full)
        summary = ScanSummary(scan_id=scan_row.id, full=full)
        try:
            _scan(summary, roots, file_types, follow_symlinks, progress)
        except Exception as exc:
            with store.write_transaction():
                Scan.update(
                    status="failed", finished_at=time.time(), error=f"{type(exc).__name__}: {exc}"
                ).where(Scan.id == scan_row.id).execute()
            raise
        summary.duration = time.time() - started
        problems = [f"{path}: {reason}" for path, reason in summary.problems]
        with store.write_transaction():
            Scan.update(
                status="ok",
                finished_at=time.time(),
                files_seen=summary.seen,
                files_read=summary.read,
                files_new=summary.new,
                files_changed=summary.changed,
                files_removed=summary.removed,
                unreadable=summary.unreadable,
                error="\n".join(problems) or None,
            ).where(Scan.id == scan_row.id).execute()
        return summary


def _scan(
    summary: ScanSummary,
    roots: list[Path],
    file_types: list[str],
    follow_symlinks: bool,
    progress: Progress | None,
) -> None:
    store = api.storage()
    known: dict[str, tuple[int, int, int, bool, bool]] = {
        path: (fid, size, mtime, present, error is not None)
        for fid, path, size, mtime, present, error in rows(
            LocalFile.select(
                LocalFile.id,
                LocalFile.path,
                LocalFile.size,
                LocalFile.mtime_ns,
                LocalFile.present,
                LocalFile.error,
            )
        )
    }
    report = WalkReport()
    found = list(walk(roots, file_types, follow_symlinks, report))
    summary.problems, summary.loops = report.problems, report.loops
    total = len(found)
    seen_paths: set[str] = set()
    batch: list[dict[str, Any]] = []
    now = time.time()
    for done, item in enumerate(found, 1):
        seen_paths.add(item.path)
        before = known.get(item.path)
        if (
            before is not None
            and not summary.full
            and before[3]
            and before[1] == item.size
            and before[2] == item.mtime_ns
        ):
            summary.unreadable += before[4]
        else:
            batch.append(_read_row(item.path, item.size, item.mtime_ns, now, summary))
            if before is None:
                summary.new += 1
            elif not (before[3] and before[1] == item.size and before[2] == item.mtime_ns):
                summary.changed += 1
                summary.changed_ids.add(before[0])
            elif summary.full:
                summary.changed_ids.add(before[0])  # re-read: its tags may differ
            if len(batch) >= _BATCH:
                _write(batch)
                batch = []
        if progress is not None and (done % 200 == 0 or done == total):
            progress(done, total)
    _write(batch)
    summary.seen = total
    # Files gone from a folder that was walked; an unreadable folder's files are kept.
    skipped = report.skipped_dirs
    gone = [
        fid
        for path, (fid, _s, _m, present, _e) in known.items()
        if present and path not in seen_paths and not _under(path, skipped)
    ]
    for start in range(0, len(gone), _BATCH):
        chunk = gone[start : start + _BATCH]
        with store.write_transaction():
            LocalFile.update(present=False, changed_at=now).where(LocalFile.id.in_(chunk)).execute()
    summary.removed = len(gone)
    summary.changed_ids.update(gone)
    new_paths = [item.path for item in found if item.path not in known]
    for start in range(0, len(new_paths), _BATCH):
        chunk_paths = new_paths[start : start + _BATCH]
        summary.changed_ids.update(
            row[0]
            for row in rows(LocalFile.select(LocalFile.id).where(LocalFile.path.in_(chunk_paths)))
        )


def _read_row(
    path: str, size: int, mtime_ns: int, now: float, summary: ScanSummary
) -> dict[str, Any]:
    summary.read += 1
    row: dict[str, Any] = {
        "path": path,
        "size": size,
        "mtime_ns": mtime_ns,
        "present": True,
        "scanned_at": now,
        "changed_at": now,
        "title": None,
        "artist": None,
        "album": None,
        "duration": None,
        "spotify_id": None,
        "source": "none",
        "error": None,
    }
    try:
        info = read(path)
    except UnreadableFile as exc:
        summary.unreadable += 1
        row["error"] = str(exc)
        return row
    row.update(
        title=info.title,
        artist=info.artist,
        album=info.album,
        duration=info.duration,
        spotify_id=info.spotify_id,
        source=info.source,
    )
    return row


_COLUMNS = (
    "path",
    "size",
    "mtime_ns",
    "present",
    "scanned_at",
    "changed_at",
    "title",
    "artist",
    "album",
    "duration",
    "spotify_id",
    "source",
    "error",
)
#: One upsert per row, sent with the DB-API's executemany: peewee's insert_many builds the SQL
#: value by value in Python, which cost more than reading the tags (docs/performance.md).
_UPSERT = (
    "INSERT INTO collection_files (path, size, mtime_ns, present, scanned_at, changed_at, "
    "title, artist, album, duration, spotify_id, source, error) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET "
    "size = excluded.size, mtime_ns = excluded.mtime_ns, present = excluded.present, "
    "scanned_at = excluded.scanned_at, changed_at = excluded.changed_at, "
    "title = excluded.title, artist = excluded.artist, album = excluded.album, "
    "duration = excluded.duration, spotify_id = excluded.spotify_id, "
    "source = excluded.source, error = excluded.error"
)


def _write(batch: list[dict[str, Any]]) -> None:
    if not batch:
        return
    store = api.storage()
    with store.write_transaction():
        cursor = store.database.cursor()
        cursor.executemany(_UPSERT, [tuple(row[c] for c in _COLUMNS) for row in batch])
