"""Restoring the database to a moment from the replica (``soulspot backup restore --at WHEN``,
``--latest``, ``--dry-run``; the time picker on the Backups page).

The replica belongs to whichever plugin answers the kernel hook ``point_in_time_source``
(the replication plugin); this module only asks it for a database file and then restores
that file with the same steps and safety as a snapshot archive (:mod:`.restore`): the copy
is checked (integrity, schema), the app goes into maintenance and waits for requests in
flight, replication pauses, a pre-restore backup is taken, the restore-in-progress mark
covers the swap, and a failure puts the previous state back.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soulspot.replication import PointInTimeError, PointInTimeSource

from .errors import BackupError
from .restore import DRAIN_SECONDS, Plan, Progress, _refuse, _replace

if TYPE_CHECKING:  # pragma: no cover
    from .service import BackupService

#: The backup source whose file the replica holds (the storage plugin's database).
DATABASE_SOURCE = "database"
DB_FILENAME = "soulspot.db"


def parse_when(text: str) -> dt.datetime:
    """An ISO 8601 moment (``2026-12-03T17:20:00Z``, ``...+01:00``); one without an offset is
    the machine's local time. Raises ``ValueError`` with what was expected."""
    value = text.strip()
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.astimezone()  # the machine's local time
        # a moment at the very ends of the calendar has no UTC (OverflowError)
        return moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise ValueError(
            f"{text!r} is not an ISO 8601 moment; expected e.g. 2026-12-03T17:20:00Z or "
            "2026-12-03T18:20:00+01:00"
        ) from None


def iso(moment: dt.datetime) -> str:
    text = moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def source() -> PointInTimeSource:
    from soulspot import api

    found = api.point_in_time_source()
    if found is None:
        raise BackupError(
            "point-in-time restore needs a replica: set [plugins.replication] replica_url "
            "(see docs/replication.md); nothing was changed"
        )
    return found


def window() -> dict[str, str] | None:
    """The restorable window as ISO strings, or ``None`` (no replica, or nothing in it)."""
    from soulspot import api

    found = api.point_in_time_source()
    if found is None:
        return None
    try:
        span = found.window()
    except PointInTimeError:
        return None
    return None if span is None else {"earliest": iso(span.earliest), "latest": iso(span.latest)}


def _work_folder(svc: BackupService) -> Path:
    work = svc.dir / f".restore-{os.getpid()}-{int(time.time() * 1000)}"
    work.mkdir(mode=0o700)
    (work / DATABASE_SOURCE).mkdir(mode=0o700)
    return work


def _fetch(replica: PointInTimeSource, work: Path, at: dt.datetime | None) -> dt.datetime:
    try:
        return replica.restore_to(work / DATABASE_SOURCE / DB_FILENAME, at)
    except PointInTimeError as exc:
        raise BackupError(str(exc)) from None


def describe(path: Path) -> dict[str, Any]:
    """Size, integrity and row counts per table of a restored database file."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        integrity = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        rows = {
            name: int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])  # noqa: S608  # nosec B608 - names from sqlite_master
            for name in names
        }
    finally:
        conn.close()
    return {"size": path.stat().st_size, "integrity": integrity, "tables": rows}


def dry_run(svc: BackupService, at: dt.datetime | None, progress: Progress) -> dict[str, Any]:
    """Restore into a temporary file and say what a restore would bring back; nothing live
    is touched."""
    replica = source()
    with svc.lock:
        work = _work_folder(svc)
        try:
            progress(f"restoring the replica to {'the latest moment' if at is None else iso(at)}")
            moment = _fetch(replica, work, at)
            report = describe(work / DATABASE_SOURCE / DB_FILENAME)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return {"at": iso(moment), "latest": at is None, **report}


def run(svc: BackupService, at: dt.datetime | None, progress: Progress) -> dict[str, Any]:
    """Restore the database to ``at`` (``None``: the latest moment the replica holds)."""
    from soulspot import api
    from soulspot.inflight import StillBusy

    replica = source()
    registered = {s.name: s for s in svc.sources()}
    if DATABASE_SOURCE not in registered:
        raise BackupError("no storage plugin restores the database here; nothing was changed")
    with svc.lock:
        svc.clean_stale()
        work = _work_folder(svc)
        try:
            wanted = "the latest moment" if at is None else iso(at)
            progress(f"restoring the replica to {wanted} into a work folder")
            moment = _fetch(replica, work, at)
            ident = f"--at {iso(moment)}"
            problems = registered[DATABASE_SOURCE].verify(work / DATABASE_SOURCE)
            if problems:
                message = f"the replica's copy at {iso(moment)} is damaged: " + "; ".join(problems)
                _refuse(ident, message + "; nothing was changed")
                raise BackupError(message + "; nothing was changed")
            plan = Plan({"sources": [{"name": DATABASE_SOURCE}]}, [DATABASE_SOURCE])
            try:
                # requests end first; then Litestream ships their writes as it stops, and it
                # does not watch the file while it is swapped (it resumes on the new one)
                with (
                    api.maintenance(f"restoring to {iso(moment)}", drain_seconds=DRAIN_SECONDS),
                    replica.paused(),
                ):
                    summary = _replace(svc, ident, plan, work, None, progress)
            except StillBusy as exc:
                message = f"not restored to {iso(moment)}: {exc}; nothing was changed"
                _refuse(ident, message)
                raise BackupError(message) from None
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return {**summary, "at": iso(moment), "latest": at is None}
