"""The backup folder: its lock, its listing, and ``state.json`` (what verification found).

Everything that changes the folder holds :attr:`BackupFolder.lock`, which is re-entrant in
one thread (a restore takes a pre-restore backup) and exclusive between threads and
processes (``flock``: the CLI and the server never write the folder at the same time).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soulspot.api import atomic_write, fsync_dir

from .archive import BackupError, parse_name, valid_id

#: Work files of a backup, restore or verification in progress (removed when stale).
WORK_PREFIXES = (".staging-", ".restore-", ".verify-")


@dataclass
class BackupInfo:
    """One archive in the backup folder, as listings show it."""

    id: str
    path: Path
    created_at: dt.datetime
    trigger: str
    encrypted: bool
    size: int
    #: ``True`` verified sound, ``False`` verification failed, ``None`` never verified.
    verified: bool | None = None
    verified_at: dt.datetime | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.path.name,
            "created_at": self.created_at.isoformat(),
            "trigger": self.trigger,
            "encrypted": self.encrypted,
            "size": self.size,
            "verified": self.verified,
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
            "problems": list(self.problems),
        }


class FolderLock:
    """Re-entrant in one thread, exclusive between threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rlock = threading.RLock()
        self.depth = 0
        self.fd: int | None = None

    def __enter__(self) -> None:
        self.rlock.acquire()
        if self.depth == 0:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                self.rlock.release()
                raise
            self.fd = fd
        self.depth += 1

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1
        if self.depth == 0 and self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
        self.rlock.release()


class BackupFolder:
    """The archives in one folder and what is known about them."""

    def __init__(self, path: Path, configured: bool) -> None:
        """Create ``path`` (0700) if needed; a folder this user cannot use stops start-up
        with a message naming the setting (``configured``: ``[plugins.backup] dir``)."""
        self.dir = path
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            from soulspot.plugins import PluginError

            setting = "[plugins.backup] dir" if configured else "the default backup folder"
            raise PluginError(
                f"config error: {setting} {self.dir} cannot be used: "
                f"{exc.strerror or exc}. Expected a folder this user can create and write "
                "(set [plugins.backup] dir to one)."
            ) from None
        self.lock = FolderLock(self.dir / ".lock")

    def clean_stale(self) -> None:
        """Remove work files a killed process left behind. Does something only with the
        folder lock held once (the outermost holder): no other work of ours runs then, and
        no other process can be writing them."""
        if self.lock.depth != 1:
            return
        for path in self.dir.iterdir():
            if path.name.startswith(WORK_PREFIXES) and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.name.startswith(".tmp-") and path.is_file():
                path.unlink(missing_ok=True)

    # --- state.json ------------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    def read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {"verified": {}}
        return data if isinstance(data, dict) else {"verified": {}}

    def write_state(self, update: Callable[[dict[str, Any]], None]) -> None:
        """Apply ``update`` to the state and write it back (under the folder lock)."""
        with self.lock:
            state = self.read_state()
            state.setdefault("verified", {})
            update(state)
            atomic_write(self.state_path, json.dumps(state, indent=2, sort_keys=True))

    def record_verification(self, ident: str, problems: list[str]) -> None:
        """Remember that backup ``ident`` was verified now, with these ``problems``."""
        now = dt.datetime.now(dt.UTC).isoformat()

        def update(state: dict[str, Any]) -> None:
            state["verified"][ident] = {"at": now, "ok": not problems, "problems": problems[:20]}

        self.write_state(update)

    def record_failure(self, action: str, message: str) -> None:
        now = dt.datetime.now(dt.UTC).isoformat()

        def update(state: dict[str, Any]) -> None:
            state["last_failure"] = {"at": now, "action": action, "message": message[:500]}

        self.write_state(update)

    def clear_failure(self) -> None:
        self.write_state(lambda s: s.pop("last_failure", None))

    def last_failure(self) -> dict[str, Any] | None:
        failure = self.read_state().get("last_failure")
        return failure if isinstance(failure, dict) else None

    # --- listing ---------------------------------------------------------------------------

    def backups(self) -> list[BackupInfo]:
        """Every backup, newest first (temporary files of a backup in progress excluded)."""
        verified = self.read_state().get("verified", {})
        out: list[BackupInfo] = []
        for path in self.dir.iterdir():
            name = parse_name(path.name)
            if name is None or not path.is_file():
                continue
            record = verified.get(name.id) or {}
            at = record.get("at")
            out.append(
                BackupInfo(
                    id=name.id,
                    path=path,
                    created_at=name.created_at,
                    trigger=name.trigger,
                    encrypted=name.encrypted,
                    size=path.stat().st_size,
                    verified=record.get("ok"),
                    verified_at=dt.datetime.fromisoformat(at) if at else None,
                    problems=list(record.get("problems") or []),
                )
            )
        return sorted(out, key=lambda b: (b.created_at, b.id), reverse=True)

    def get(self, ident: str) -> BackupInfo:
        if not valid_id(ident):
            raise BackupError(
                f"{ident!r} is not a backup id (ids look like 20261125T030000Z-scheduled-1a2b3c; "
                "see `soulspot backup list`)"
            )
        for info in self.backups():
            if info.id == ident:
                return info
        raise BackupError(f"no backup {ident!r} in {self.dir} (see `soulspot backup list`)")

    def newest_verified(self) -> BackupInfo | None:
        return next((b for b in self.backups() if b.verified), None)

    def resolve(self, ref: str) -> Path:
        """The archive file ``ref`` names: a backup id here, or the path of an archive."""
        if valid_id(ref):
            return self.get(ref).path
        path = Path(ref).expanduser()
        if path.is_file():
            return path.resolve()
        raise BackupError(
            f"{ref!r} is neither a backup id nor an archive file (see `soulspot backup list`)"
        )

    def remove(self, ident: str) -> None:
        """Delete backup ``ident`` and what is recorded about it (under the folder lock)."""
        with self.lock:
            info = self.get(ident)
            info.path.unlink()
            fsync_dir(self.dir)
            self.write_state(lambda s: s["verified"].pop(ident, None))
