"""Starting a sync run: one at a time, recorded, audited, measured, announced.

One run at a time across processes (the CLI and the server's scheduler): an exclusive
``flock`` on ``<data_dir>/library-sync.lock``, which the kernel drops when a process dies —
so a SIGKILLed run never blocks the next one, which marks the dead run "interrupted".
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app

from soulspot import api
from soulspot.vault import SyncChanges

from .config import LibraryConfig
from .metrics import LibraryMetrics
from .models import Run
from .sync import Outcome, Syncer, update_run
from .webapi import Paused, ReauthNeeded, RunStopped, WebAPI

log = logging.getLogger("soulspot.library")

#: What the library reads (issue 13): nothing more, read-only.
NEEDED_SCOPES = frozenset(
    {
        "playlist-read-private",
        "playlist-read-collaborative",
        "user-library-read",
        "user-follow-read",
    }
)
REAUTHORISE = "re-authorise to read your library"


class SyncRefused(Exception):
    """The run did not start (already running, not signed in, scopes missing)."""


@contextmanager
def run_lock() -> Iterator[None]:
    path = api.data_dir() / "library-sync.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncRefused("a library sync is already running; wait for it to finish") from None
        yield
    finally:
        os.close(fd)


def sync_running() -> bool:
    """Whether some process holds the run lock now (a run row left "running" by a killed
    process does not count)."""
    try:
        with run_lock():
            return False
    except SyncRefused:
        return True


def missing_scopes() -> frozenset[str] | None:
    """Scopes the owner has not granted; ``None`` when nobody has signed in."""
    client = api.owner_client()
    if client is None:
        return None
    return NEEDED_SCOPES - client.granted_scopes


def sync(
    *,
    full: bool = False,
    trigger: str = "cli",
    progress: Callable[[str, int, int], None] | None = None,
    metrics: LibraryMetrics | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Run one sync now, in this thread (inside an app context with a store connection)."""
    config: LibraryConfig = api.config_for("library")
    client = api.owner_client()
    if client is None:
        raise SyncRefused("nobody has signed in with Spotify yet: sign in first")
    missing = NEEDED_SCOPES - client.granted_scopes
    if missing:
        raise SyncRefused(
            f"{REAUTHORISE}: sign in with Spotify again to grant {', '.join(sorted(missing))}"
        )
    with run_lock():
        now = time.time()
        with api.storage().write_transaction():
            Run.update(status="interrupted", finished_at=now, message="the run was stopped").where(
                Run.status == "running"
            ).execute()
            run = Run.create(
                id=uuid.uuid4().hex, started_at=now, status="running", full=full, trigger=trigger
            )
        api.audit("library.sync_started", run=run.id, full=full, trigger=trigger)
        last_report = [0.0]

        def report(step: str, done: int, total: int) -> None:
            if progress is not None:
                progress(step, done, total)
            moment = time.monotonic()
            if moment - last_report[0] >= 0.5 or done == 0:
                last_report[0] = moment
                update_run(run.id, step=step[:255], done=done, total=total)

        webapi = WebAPI(
            client,
            config,
            on_response=metrics.response if metrics else None,
            on_wait=metrics.waited if metrics else None,
            sleep=sleep,
        )
        syncer = Syncer(webapi, config, client.user_id, full=full, run_id=run.id, progress=report)
        status, message, paused_until = "ok", "", None
        try:
            failures = syncer.run()
        except Paused as exc:
            failures, status, message, paused_until = syncer.failures, "paused", str(exc), exc.until
        except ReauthNeeded as exc:
            failures, status, message = syncer.failures, "failed", f"{REAUTHORISE}: {exc}"
        except RunStopped as exc:  # pragma: no cover - every stop is one of the above
            failures, status, message = syncer.failures, "failed", str(exc)
        if status == "ok" and failures:
            status = "failed"
            message = f"{len(failures)} step(s) failed: " + "; ".join(failures[:5])
        elif failures:
            message = message + "; " + "; ".join(failures[:5])
        finished = time.time()
        applied = syncer.applied
        update_run(
            run.id,
            status=status,
            finished_at=finished,
            message=message,
            requests=webapi.requests,
            changes=applied.changes,
            paused_until=paused_until,
            step="",
            done=syncer.total,
            total=syncer.total,
        )
        outcome = Outcome(
            run.id,
            status,
            message,
            webapi.requests,
            applied.changes,
            failures,
            applied,
            paused_until,
        )
    _announce(outcome, finished - now, metrics)
    return outcome


def _announce(outcome: Outcome, duration: float, metrics: LibraryMetrics | None) -> None:
    details: dict[str, Any] = {
        "run": outcome.run_id,
        "requests": outcome.requests,
        "changes": outcome.changes,
    }
    if outcome.status == "ok":
        api.audit("library.sync_finished", **details)
    else:
        api.audit("library.sync_failed", outcome="failed", error=outcome.message, **details)
    log.info("library sync %s", outcome.status, extra={**details, "result": outcome.message})
    if metrics is not None:
        metrics.finished(outcome.status, duration, outcome.applied)
    applied = outcome.applied
    if applied.changes:
        changes = SyncChanges(
            run_id=outcome.run_id,
            finished_at=dt.datetime.now(dt.UTC),
            track_ids=frozenset(applied.track_ids),
            playlist_ids=frozenset(applied.playlist_ids),
            liked_changed=applied.liked_changed,
        )
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        api.hook(app).library_synced(app=app, changes=changes)
