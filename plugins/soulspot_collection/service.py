"""The collection plugin's service: scan, rematch, decisions and what the pages show.

One per app (made on first use), kept with ``soulspot.api.set_state_for``; every
method runs inside an app context.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from flask import Flask

from soulspot import api
from soulspot.vault import SyncChanges

from . import decisions
from .models import Candidate, LocalFile, Scan, TrackMatch, rows
from .reconcile import (
    RematchSummary,
    affected_by_files,
    rematch,
    vault_tracks,
    without_standing,
)
from .scanner import Progress, ScanSummary, run_scan

EXTENSION = "soulspot.collection"
_CREATE = threading.Lock()


@dataclass(frozen=True)
class ScanOutcome:
    scan: ScanSummary
    rematch: RematchSummary


class CollectionService:
    def __init__(self, app: Flask) -> None:
        self.app = app
        #: Last durations, for metrics (seconds).
        self.last_scan_seconds: float | None = None
        self.last_rematch_seconds: float | None = None
        self._running = threading.Lock()
        #: Why the last background scan failed (None when it did not).
        self.background_error: str | None = None

    @property
    def config(self) -> Any:
        return api.config_for("collection")

    @property
    def lock_path(self) -> Path:
        return api.data_dir() / "collection-scan.lock"

    # -- scanning and matching ------------------------------------------------------------

    def scan(self, *, full: bool = False, progress: Progress | None = None) -> ScanOutcome:
        """Scan the music folders, then rematch what the changes concern. Raises
        :class:`~soulspot_collection.scanner.ScanBusy` when a scan is running."""
        cfg = self.config
        with api.span("collection.scan", **{"soulspot.full": full}):
            summary = run_scan(
                list(cfg.music_dirs),
                list(cfg.file_types),
                cfg.follow_symlinks,
                self.lock_path,
                full=full,
                progress=progress,
            )
        self.last_scan_seconds = summary.duration
        with api.span("collection.rematch"), api.storage().connection():
            tracks = vault_tracks(api.library())
            only = affected_by_files(summary.changed_ids, tracks) | without_standing(tracks)
            outcome = rematch(tracks, only)
        self.last_rematch_seconds = outcome.seconds
        api.audit(
            "collection.scanned",
            full=full,
            files=summary.seen,
            read=summary.read,
            removed=summary.removed,
            unreadable=summary.unreadable,
            rematched=outcome.tracks,
        )
        return ScanOutcome(summary, outcome)

    def start_scan(self, *, full: bool = False) -> bool:
        """Scan on a background thread ("Scan now"); ``False`` when one is running here or in
        another process."""
        from .scanner import ScanBusy, scan_lock

        if not self._running.acquire(blocking=False):
            return False
        try:
            with scan_lock(self.lock_path):
                pass  # another process scanning? (the thread takes the lock for real)
        except ScanBusy:
            self._running.release()
            return False
        app = self.app

        def work() -> None:
            try:
                with app.app_context():
                    self.scan(full=full)
                    self.background_error = None
            except Exception as exc:  # reported on the page and in the log
                import logging

                self.background_error = f"{type(exc).__name__}: {exc}"
                logging.getLogger("soulspot.collection").exception("background scan failed")
            finally:
                self._running.release()

        threading.Thread(target=work, name="collection-scan", daemon=True).start()
        return True

    @property
    def scanning(self) -> bool:
        return self._running.locked()

    def on_synced(self, changes: SyncChanges) -> RematchSummary:
        """After a library sync: rematch the tracks it names and any without a standing."""
        with api.storage().connection():
            tracks = vault_tracks(api.library())
            only = (set(changes.track_ids) & set(tracks)) | without_standing(tracks)
            outcome = rematch(tracks, only)
        self.last_rematch_seconds = outcome.seconds
        return outcome

    def rematch_all(self) -> RematchSummary:
        with api.storage().connection():
            outcome = rematch(vault_tracks(api.library()))
        self.last_rematch_seconds = outcome.seconds
        return outcome

    def decide(self, track_id: str, kind: decisions.Kind, file_id: int | None) -> str:
        """Record the owner's decision and restate the track; returns its new status."""
        with api.storage().connection():
            tracks = vault_tracks(api.library(), [track_id])
            if track_id not in tracks:
                raise decisions.UnknownTarget(f"there is no track {track_id!r} in the library")
            user = api.current_user()
            decisions.record(track_id, kind, file_id, user.id if user else None)
            rematch(tracks, {track_id})
            return self.status_of(track_id)

    def clear_decisions(self, track_id: str) -> str:
        with api.storage().connection():
            tracks = vault_tracks(api.library(), [track_id])
            decisions.clear(track_id)
            if track_id in tracks:
                rematch(tracks, {track_id})
            return self.status_of(track_id)

    # -- reading --------------------------------------------------------------------------

    def status_of(self, track_id: str) -> str:
        found = TrackMatch.get_or_none(TrackMatch.track_id == track_id)
        return str(found.status) if found is not None else "missing"

    def standing(self) -> dict[str, tuple[str, int | None, float | None, str | None]]:
        query = TrackMatch.select(
            TrackMatch.track_id,
            TrackMatch.status,
            TrackMatch.file_id,
            TrackMatch.score,
            TrackMatch.method,
        )
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows(query)}

    def counts(self) -> dict[str, int]:
        counts = {"matched": 0, "review": 0, "missing": 0, "not_wanted": 0}
        query = TrackMatch.select(TrackMatch.status, peewee_count()).group_by(TrackMatch.status)
        for status, n in rows(query):
            counts[str(status)] = int(n)
        return counts

    def file_counts(self) -> dict[str, int]:
        present = LocalFile.select().where(LocalFile.present == True)  # noqa: E712
        return {
            "files": present.count(),
            "unreadable": present.where(LocalFile.error.is_null(False)).count(),
        }

    def last_scan(self) -> Scan | None:
        return Scan.select().order_by(Scan.id.desc()).first()  # type: ignore[no-any-return]

    def last_finished_scan(self) -> Scan | None:
        return (  # type: ignore[no-any-return]
            Scan.select().where(Scan.status == "ok").order_by(Scan.id.desc()).first()
        )

    def files_by_id(self, ids: list[int]) -> dict[int, LocalFile]:
        found: dict[int, LocalFile] = {}
        for start in range(0, len(ids), 500):
            for row in LocalFile.select().where(LocalFile.id.in_(ids[start : start + 500])):
                found[row.id] = row
        return found

    def candidates_of(self, track_ids: list[str]) -> dict[str, list[tuple[int, float]]]:
        found: dict[str, list[tuple[int, float]]] = {}
        for start in range(0, len(track_ids), 500):
            chunk = track_ids[start : start + 500]
            query = Candidate.select(Candidate.track_id, Candidate.file_id, Candidate.score).where(
                Candidate.track_id.in_(chunk)
            )
            for track_id, file_id, score in rows(query):
                found.setdefault(track_id, []).append((file_id, score))
        for items in found.values():
            items.sort(key=lambda c: -c[1])
        return found


def peewee_count() -> Any:
    import peewee

    return peewee.fn.COUNT(peewee.SQL("*"))


def service(app: Flask) -> CollectionService:
    with _CREATE:
        try:
            found = api.state_for(EXTENSION, app)
        except LookupError:
            found = api.set_state_for(EXTENSION, CollectionService(app), app)
    return cast(CollectionService, found)
