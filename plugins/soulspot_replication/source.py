"""This app's replica: the :class:`soulspot.replication.PointInTimeSource` the backup plugin
restores from, and the status (lag, last sync, window) health, metrics and pages show."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from soulspot.replication import PointInTimeError, RestoreWindow

from .config import ReplicationConfig
from .litestream import Litestream, ReplicaListing
from .supervisor import Supervisor

#: Listing the replica costs a subprocess (and a request for S3): shared for this long.
LISTING_TTL = 2.0


@dataclass(frozen=True)
class ReplicaStatus:
    listing: ReplicaListing | None
    error: str | None
    #: seconds of database changes not yet in the replica (0 when it holds them all)
    lag_seconds: float
    last_sync: dt.datetime | None


class Replica:
    """One per app with replication on."""

    owns_checkpoints = True

    def __init__(self, cfg: ReplicationConfig, config_path: Path, db_path: Path) -> None:
        self.cfg = cfg
        self.db_path = db_path
        self.litestream = Litestream(cfg, config_path, db_path)
        self.supervisor: Supervisor | None = None  # set by ``soulspot serve``
        self._lock = threading.Lock()
        self._cached: tuple[float, ReplicaStatus] | None = None

    # --- the PointInTimeSource contract ------------------------------------------------------

    def window(self) -> RestoreWindow | None:
        listing = self.litestream.listing()
        return listing.window

    def restore_to(self, path: Path, at: dt.datetime | None) -> dt.datetime:
        if path.exists():
            raise PointInTimeError(f"{path} exists: a restore writes a new file only")
        window = self.window()
        if window is None:
            raise PointInTimeError(
                f"the replica {self.cfg.replica_url} holds nothing yet: nothing was restored"
            )
        outside = PointInTimeError(
            f"{_iso(at or window.latest)} is outside the restorable window "
            f"{_iso(window.earliest)} .. {_iso(window.latest)}: nothing was restored"
        )
        # the window's ends are rounded up to the second; within the second before the
        # earliest one, Litestream itself knows whether its first copy is old enough
        if at is not None and not window.earliest - dt.timedelta(seconds=1) <= at <= window.latest:
            raise outside
        try:
            self.litestream.restore(path, at)
        except PointInTimeError as exc:
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
            if "timestamp does not exist" in str(exc):
                raise outside from None
            raise
        if not path.is_file():
            raise PointInTimeError("litestream restore wrote no database: nothing was restored")
        return at if at is not None else window.latest

    @contextmanager
    def paused(self) -> Iterator[None]:
        if self.supervisor is None:
            yield
            return
        with self.supervisor.paused():
            yield
        self.forget()

    # --- status ------------------------------------------------------------------------------

    def forget(self) -> None:
        with self._lock:
            self._cached = None

    def status(self) -> ReplicaStatus:
        now = time.monotonic()
        with self._lock:
            if self._cached is not None and now - self._cached[0] < LISTING_TTL:
                return self._cached[1]
        try:
            listing: ReplicaListing | None = self.litestream.listing()
            error = None
        except PointInTimeError as exc:
            listing, error = None, str(exc)
        last_sync = listing.window.latest if listing and listing.window else None
        status = ReplicaStatus(listing, error, self._lag(listing, last_sync), last_sync)
        with self._lock:
            self._cached = (now, status)
        return status

    def _lag(self, listing: ReplicaListing | None, last_sync: dt.datetime | None) -> float:
        """Seconds since the oldest change the replica does not hold yet; 0 when it holds
        them all (1 s precision: Litestream lists replica files to the second, and the window's
        ends are rounded up)."""
        shipped = last_sync.timestamp() if last_sync is not None else None
        supervisor = self.supervisor
        if supervisor is not None and supervisor.running and listing is not None:
            # Litestream reads the WAL every monitor interval; what it read and the replica
            # does not hold yet is the lag
            try:
                behind = self.litestream.local_txid() > listing.txid
            except PointInTimeError:
                behind = True
            if not behind:
                return 0.0
            since = shipped if shipped is not None else supervisor.started_at or time.time()
            return max(0.0, time.time() - since)
        # Litestream is not running: a WAL written after the replica's newest file holds
        # changes nobody ships (commits write the WAL; SQLite's auto-checkpoint is off)
        try:
            changed = Path(f"{self.db_path}-wal").stat().st_mtime
        except OSError:
            return 0.0
        if shipped is None or changed > shipped:
            return max(0.0, time.time() - (shipped or changed))
        return 0.0


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso(moment: dt.datetime) -> str:
    return _iso(moment)


def replica_config_folder(data_dir: Path) -> Path:
    """Where the generated Litestream config lives (inside the data dir, 0700)."""
    return Path(os.fspath(data_dir)) / "replication"
