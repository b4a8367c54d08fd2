"""The backup service of one app: what views, commands, hooks and the restore use.

One instance per app (``soulspot.api.state_for("soulspot.backup")``). It holds the pieces and hands
each job to the module named after it: :mod:`.folder` (the lock, the listing, what
verification found), :mod:`.sources` (what a backup holds), :mod:`.create`, :mod:`.verify`,
:mod:`.restore`, :mod:`.retention` and :mod:`.schedule`; :mod:`.startup` holds what start-up
and ``serve`` do.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from soulspot import api
from soulspot.types import BackupSource

from . import create as creating
from . import schedule, sources, startup
from . import verify as verifying
from .config import BackupConfig
from .folder import BackupFolder, BackupInfo, FolderLock
from .metrics import BackupMetrics
from .retention import Candidate, Policy, to_prune
from .signing import KeyRing
from .startup import (
    RECOVERY,
    refuse_if_interrupted,
    serving_pid,
    set_aside_dir,
    set_aside_if_unreadable,
)

__all__ = [
    "RECOVERY",
    "BackupInfo",
    "BackupService",
    "refuse_if_interrupted",
    "service",
    "serving_pid",
    "set_aside_if_unreadable",
]

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


class BackupService:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.config: BackupConfig = _config(app)
        path = (self.config.dir or api.data_dir(app) / "backups").expanduser().resolve()
        self.folder = BackupFolder(path, configured=self.config.dir is not None)
        self.signing = KeyRing(api.data_dir(app))
        self.metrics = BackupMetrics()
        #: Set while a restore runs (a pre-migration backup then points at the archive).
        self.restoring: str | None = None
        self._serving_fd: int | None = None
        newest = self.newest_verified()
        if newest is not None:
            self.metrics.last_success.set(newest.created_at.timestamp())
            self.metrics.size.set(newest.size)

    @property
    def dir(self) -> Path:
        """The backup folder."""
        return self.folder.dir

    @property
    def lock(self) -> FolderLock:
        """Held by everything that changes the backup folder or the live data."""
        return self.folder.lock

    # --- the serving process ---------------------------------------------------------------

    def hold_serving_lock(self) -> None:
        """``soulspot serve`` holds ``<backups>/.serving`` locked while it runs, so that a
        restore from the command line can tell it must not swap files under it."""
        if self._serving_fd is None:
            self._serving_fd = startup.hold_serving_lock(self.dir)

    def set_aside_dir(self) -> str | None:
        """Where start-up moved this app's unreadable database (``None``: it did not)."""
        return set_aside_dir(self.app)

    def serving_pid(self) -> int | None:
        """The pid of a ``soulspot serve`` using this backup folder, if one runs."""
        return serving_pid(self.dir)

    # --- sources ---------------------------------------------------------------------------

    def sources(self) -> list[BackupSource]:
        """Every backup source of the enabled plugins."""
        return sources.registered(self.app)

    def config_source(self) -> BackupSource:
        """The config file as a backup source."""
        return sources.config_source(self.app)

    def config_path(self) -> Path:
        """Where the config file is (or, without one, where a restored one goes)."""
        return sources.config_path(self.app)

    def verify_sources(self, root: Path, manifest: Mapping[str, Any]) -> list[str]:
        """Each registered source's own check of its snapshot under ``root/<source>``."""
        return sources.verify_snapshots(self.sources(), root, manifest)

    # --- the folder ------------------------------------------------------------------------

    def clean_stale(self) -> None:
        """Remove work files a killed process left (see :meth:`.BackupFolder.clean_stale`)."""
        self.folder.clean_stale()

    def resolve(self, ref: str) -> Path:
        """The archive file ``ref`` names: a backup id here, or the path of an archive."""
        return self.folder.resolve(ref)

    def record_verification(self, ident: str, problems: list[str]) -> None:
        """Remember what verifying backup ``ident`` found."""
        self.folder.record_verification(ident, problems)

    def backups(self) -> list[BackupInfo]:
        """Every backup, newest first."""
        return self.folder.backups()

    def get(self, ident: str) -> BackupInfo:
        return self.folder.get(ident)

    def newest_verified(self) -> BackupInfo | None:
        return self.folder.newest_verified()

    def last_failure(self) -> dict[str, Any] | None:
        return self.folder.last_failure()

    # --- create, verify, restore -----------------------------------------------------------

    def default_passphrase(self) -> str | None:
        secret = self.config.passphrase
        return (
            secret.get_secret_value() if secret is not None and secret.get_secret_value() else None
        )

    def create(
        self, trigger: str, passphrase: str | None = None, progress: Progress = _quiet
    ) -> BackupInfo:
        """Take a backup, write it atomically, verify it (see :mod:`.create`)."""
        return creating.create(self, trigger, passphrase, progress)

    def verify(
        self,
        ref: str,
        passphrase: str | None = None,
        progress: Progress = _quiet,
        *,
        force_unsigned: bool = False,
    ) -> list[str]:
        """Check the archive ``ref``; returns its problems (see :mod:`.verify`)."""
        return verifying.verify(self, ref, passphrase, progress, force_unsigned=force_unsigned)

    def restore(
        self,
        ref: str,
        passphrase: str | None = None,
        progress: Progress = _quiet,
        *,
        force_unsigned: bool = False,
        skip_config: bool = False,
    ) -> dict[str, Any]:
        """Restore the backup ``ref`` (an id here, or the path of an archive file); see
        :mod:`.restore` for the steps and what each failure leaves. Returns a summary."""
        from .restore import run

        return run(
            self, ref, passphrase, progress, force_unsigned=force_unsigned, skip_config=skip_config
        )

    def restore_to(
        self, at: dt.datetime | None, progress: Progress = _quiet, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Restore the database to the moment ``at`` from the replica (``None``: its latest
        moment), with the same steps as :meth:`restore`; ``dry_run`` restores into a
        temporary file only and reports what it holds. See :mod:`.point_in_time`."""
        from . import point_in_time

        if dry_run:
            return point_in_time.dry_run(self, at, progress)
        return point_in_time.run(self, at, progress)

    # --- retention and deletion -----------------------------------------------------------

    def policy(self) -> Policy:
        return Policy(
            self.config.keep_last,
            self.config.keep_daily,
            self.config.keep_weekly,
            self.config.keep_monthly,
        )

    def candidates(self) -> list[Candidate]:
        return [
            Candidate(b.id, b.created_at, b.trigger, b.verified is not False, b.verified is True)
            for b in self.backups()
        ]

    def prune(self, progress: Progress = _quiet) -> list[str]:
        """Delete the backups the retention policy does not keep; returns their ids."""
        from soulspot import api

        with self.lock:
            doomed = to_prune(self.candidates(), self.policy())
            for ident in doomed:
                progress(f"pruning {ident}")
                self.folder.remove(ident)
        if doomed:
            api.audit("backup.pruned", count=len(doomed), backup_ids=doomed)
        return doomed

    def delete(self, ident: str) -> BackupInfo:
        from soulspot import api

        with self.lock:
            info = self.get(ident)
            self.folder.remove(ident)
        api.audit("backup.deleted", backup_id=ident, trigger=info.trigger)
        return info

    # --- schedule --------------------------------------------------------------------------

    def interval_seconds(self) -> float | None:
        """The time between scheduled backups (for cron: between its next two runs)."""
        return schedule.interval_seconds(self.config)

    def overdue(self) -> bool:
        return schedule.overdue(self.config, self.newest_verified())

    def scheduled_run(self) -> str:
        """The scheduled job: back up, then apply retention."""
        import contextlib

        from soulspot import api

        context = api.storage().connection() if api.has_storage() else contextlib.nullcontext()
        with context:
            info = self.create("scheduled")
            self.prune()
        return info.id


def service(app: Flask) -> BackupService:
    """The backup service of ``app`` (made on first use)."""
    with _service_lock:
        try:
            found: BackupService = api.state_for(EXTENSION, app)
        except LookupError:
            found = api.set_state_for(EXTENSION, BackupService(app), app)
    return found


def _config(app: Flask) -> BackupConfig:
    try:
        config = api.config_for("backup", app)
    except KeyError:
        config = None
    return config if isinstance(config, BackupConfig) else BackupConfig.model_validate({})


EXTENSION = "soulspot.backup"
_service_lock = threading.Lock()
