"""The backup service of one app: create, list, verify, restore, prune and delete backups.

One instance per app (``soulspot.api.state_for("soulspot.backup")``). Work that changes the backup
folder or the live data holds a lock that is re-entrant in this thread (a restore takes a
pre-restore backup) and exclusive across processes (``flock``: the CLI and the server never
write the folder at the same time).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import fcntl
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import Flask

from soulspot import __version__ as kernel_version
from soulspot import api
from soulspot.errors import is_disk_full
from soulspot.types import BackupSource

from .archive import (
    ArchiveName,
    BackupError,
    NeedsPassphrase,
    WrongPassphrase,
    digest_file,
    fsync_dir,
    new_name,
    parse_name,
    staged_files,
    valid_id,
    write_archive,
    write_back,
)
from .config import BackupConfig
from .reading import read_archive
from .retention import Candidate, Policy, to_prune
from .signing import KeyRing

log = logging.getLogger("soulspot.backup")

#: Set by ``soulspot backup restore`` while it builds the app: a database file too damaged to
#: open is then moved aside before the store starts (else the app could not start to restore).
RECOVERY: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "soulspot_backup_recovery", default=False
)
Progress = Callable[[str], None]
_T = TypeVar("_T")
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
CONFIG_SOURCE = "config"
DEFAULT_CONFIG_PATH = Path("config/soulspot.toml")


def _quiet(_message: str) -> None:
    pass


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


class _FolderLock:
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


class _Metrics:
    """This app's backup metrics (``registry=None``; the metrics plugin registers them)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.last_success = Gauge(
            "soulspot_backup_last_success_timestamp_seconds",
            "Unix time of the newest backup that was taken and verified.",
            registry=None,
        )
        self.duration = Histogram(
            "soulspot_backup_duration_seconds",
            "Time to take and verify a backup.",
            buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
            registry=None,
        )
        self.size = Gauge(
            "soulspot_backup_size_bytes", "Size of the newest backup archive.", registry=None
        )
        self.failures = Counter(
            "soulspot_backup_failures_total",
            "Backups that failed or did not verify.",
            registry=None,
        )

    def collectors(self) -> list[Any]:
        return [self.last_success, self.duration, self.size, self.failures]


class BackupService:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.config: BackupConfig = _config(app)
        self.dir = (self.config.dir or api.data_dir(app) / "backups").expanduser().resolve()
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            probe = self.dir / ".lock"
            os.close(os.open(probe, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            from soulspot.plugins import PluginError

            setting = "[plugins.backup] dir" if self.config.dir else "the default backup folder"
            raise PluginError(
                f"config error: {setting} {self.dir} cannot be used: "
                f"{exc.strerror or exc}. Expected a folder this user can create and write "
                "(set [plugins.backup] dir to one)."
            ) from None
        self.lock = _FolderLock(self.dir / ".lock")
        self.signing = KeyRing(api.data_dir(app))
        self.metrics = _Metrics()
        #: Set while a restore runs (a pre-migration backup then points at the archive).
        self.restoring: str | None = None
        newest = self.newest_verified()
        if newest is not None:
            self.metrics.last_success.set(newest.created_at.timestamp())
            self.metrics.size.set(newest.size)

    # --- the serving process ---------------------------------------------------------------

    def hold_serving_lock(self) -> None:
        """``soulspot serve`` holds ``<backups>/.serving`` locked while it runs, so that a
        restore from the command line can tell it must not swap files under it."""
        if getattr(self, "_serving_fd", None) is not None:
            return
        fd = os.open(self.dir / ".serving", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            log.warning("another SoulSpot process serves this data directory")
            return
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._serving_fd: int | None = fd

    def serving_pid(self) -> int | None:
        """The pid of a ``soulspot serve`` using this backup folder, if one runs."""
        return serving_pid(self.dir)

    # --- sources ---------------------------------------------------------------------------

    def clean_stale(self) -> None:
        """Remove work files a killed process left behind. Called with the folder lock held
        and nothing else of ours running (no other process can be writing them)."""
        if self.lock.depth != 1:
            return
        for path in self.dir.iterdir():
            if path.name.startswith((".staging-", ".restore-", ".verify-")) and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.name.startswith(".tmp-") and path.is_file():
                path.unlink(missing_ok=True)

    def sources(self) -> list[BackupSource]:
        found: list[BackupSource] = []
        names: set[str] = set()
        for group in api.hook(self.app).backup_sources(app=self.app):
            for source in group or ():
                if not _SOURCE_NAME.match(source.name):
                    raise BackupError(
                        f"backup source name {source.name!r} is not a plain lower-case name"
                    )
                if source.name in names:
                    raise BackupError(f"two plugins contribute a backup source {source.name!r}")
                names.add(source.name)
                found.append(source)
        return found

    def config_source(self) -> BackupSource:
        """The config file as a backup source (sensitive when it holds a secret value)."""
        configured = api.config_path(self.app)
        # without a config file (defaults), a restored one goes where SoulSpot looks first
        path = Path(configured or DEFAULT_CONFIG_PATH).resolve()
        # every configured secret, in lists and tables too (spotify's token_keys)
        secrets = sorted(api.secret_values(self.app))

        def snapshot(dest: Path) -> None:
            if configured is not None and path.exists():  # read only: it may be read-only
                (dest / "soulspot.toml").write_bytes(path.read_bytes())

        def restore(src: Path) -> None:
            archived = src / "soulspot.toml"
            if not archived.exists():
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.restore-tmp")
            shutil.copyfile(archived, tmp)
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
            if path.exists():
                shutil.copy2(path, path.with_name(path.name + ".before-restore"))
            os.replace(tmp, path)
            fsync_dir(path.parent)

        def verify(src: Path) -> list[str]:
            import tomllib

            archived = src / "soulspot.toml"
            if not archived.exists():
                return []
            try:
                tomllib.loads(archived.read_text("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                return [f"config: the archived config file is not valid TOML ({exc})"]
            return []

        try:
            text = path.read_text("utf-8") if configured is not None and path.exists() else ""
        except (OSError, UnicodeDecodeError):
            text = ""
        sensitive = any(secret in text for secret in secrets)
        return BackupSource(CONFIG_SOURCE, snapshot, restore, verify, sensitive=sensitive)

    # --- listing ---------------------------------------------------------------------------

    def _state_path(self) -> Path:
        return self.dir / "state.json"

    def _read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self._state_path().read_text())
        except (OSError, ValueError):
            return {"verified": {}}
        return data if isinstance(data, dict) else {"verified": {}}

    def _write_state(self, update: Callable[[dict[str, Any]], None]) -> None:
        with self.lock:
            state = self._read_state()
            state.setdefault("verified", {})
            update(state)
            tmp = self.dir / ".state.json.tmp"
            tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
            os.replace(tmp, self._state_path())

    def record_verification(self, ident: str, problems: list[str]) -> None:
        now = dt.datetime.now(dt.UTC).isoformat()

        def update(state: dict[str, Any]) -> None:
            state["verified"][ident] = {"at": now, "ok": not problems, "problems": problems[:20]}

        self._write_state(update)

    def backups(self) -> list[BackupInfo]:
        """Every backup, newest first (temporary files of a backup in progress excluded)."""
        verified = self._read_state().get("verified", {})
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

    def last_failure(self) -> dict[str, Any] | None:
        failure = self._read_state().get("last_failure")
        return failure if isinstance(failure, dict) else None

    # --- create ----------------------------------------------------------------------------

    def default_passphrase(self) -> str | None:
        secret = self.config.passphrase
        return (
            secret.get_secret_value() if secret is not None and secret.get_secret_value() else None
        )

    def create(
        self,
        trigger: str,
        passphrase: str | None = None,
        progress: Progress = _quiet,
    ) -> BackupInfo:
        """Take a backup, write it atomically, verify it; returns it. Raises
        :class:`BackupError` (after auditing ``backup.failed``) when any step fails."""
        from soulspot import api

        passphrase = passphrase or self.default_passphrase()
        started = time.perf_counter()
        with self.lock:
            self.clean_stale()
            name = new_name(trigger, encrypted=bool(passphrase))
            staging = self.dir / f".staging-{name.id}"
            tmp = self.dir / f".tmp-{name.filename}"
            final = self.dir / name.filename
            schema = dict(api.storage().schema_versions()) if api.has_storage() else {}

            def work() -> list[str]:
                manifest = self._snapshot(name, staging, bool(passphrase), progress, schema)
                files = [path for _, path in staged_files(staging)]
                # each source checks its snapshot before the archive consumes the files,
                # while this thread hashes the same bytes for the archive's manifest (both
                # read the page cache and release the GIL: two CPUs, one pass of time) and a
                # third writes them to disk a few MiB at a time (see write_back)
                progress("verifying the snapshots")
                checking = self._in_thread(
                    lambda: self.verify_sources(staging, manifest), name="soulspot-backup-check"
                )
                writing = self._in_thread(lambda: write_back(*files), name="soulspot-backup-disk")
                digests = {} if passphrase else {path: digest_file(path) for path in files}
                problems = checking()
                writing()
                progress("writing the archive")
                write_archive(
                    tmp, staging, manifest, passphrase, progress, digests, self.signing.sign
                )
                os.replace(tmp, final)
                fsync_dir(self.dir)
                progress(f"verifying {name.id}")
                check = read_archive(final, passphrase, progress=progress, keys=self.signing.keys())
                problems += check.problems
                if check.signature != "signed" and not check.problems:
                    problems.append(
                        f"the new archive's signature does not verify ({check.signature})"
                    )
                return problems

            try:
                staging.mkdir(mode=0o700)
                problems = self._gently(work)
                self.record_verification(name.id, problems)
                if problems:
                    raise BackupError(
                        f"backup {name.id} was written but does not verify: " + "; ".join(problems)
                    )
            except Exception as exc:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                if is_disk_full(exc):
                    free = shutil.disk_usage(self.dir).free / 1e6
                    full = BackupError(
                        f"backup failed: the backup folder {self.dir} is full ({free:.1f} MB "
                        "free); free space there or set [plugins.backup] dir to a bigger disk"
                    )
                    self._failed("create", name, full)
                    raise full from exc
                self._failed("create", name, exc)
                if isinstance(exc, BackupError):
                    raise
                raise BackupError(f"backup failed: {type(exc).__name__}: {exc}") from exc
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        duration = time.perf_counter() - started
        size = final.stat().st_size
        self.metrics.duration.observe(duration)
        self.metrics.last_success.set(name.created_at.timestamp())
        self.metrics.size.set(size)
        self._write_state(lambda s: s.pop("last_failure", None))
        details: dict[str, Any] = {
            "backup_id": name.id,
            "trigger": trigger,
            "size": size,
            "encrypted": name.encrypted,
            "duration_seconds": round(duration, 3),
        }
        api.audit("backup.created", **details)
        api.audit("backup.verified", backup_id=name.id, problems=0)
        log.info("backup created", extra=details)
        return self.get(name.id)

    def _gently(self, func: Callable[[], _T]) -> _T:
        """Run ``func`` (the heavy part of a backup) in a short-lived thread at a lower CPU
        priority (nice +10, Linux), so that request threads writing meanwhile go first when
        the CPUs are busy. Its exception is re-raised here."""
        return self._in_thread(func, priority=10, name="soulspot-backup")()

    def _in_thread(
        self, func: Callable[[], _T], priority: int | None = None, name: str = "soulspot-backup"
    ) -> Callable[[], _T]:
        """Start ``func`` on another thread with the app context, at CPU ``priority`` (nice;
        default: this thread's); the returned function waits for its result or re-raises
        its error."""
        box: dict[str, Any] = {}
        app = self.app
        if priority is None:
            with contextlib.suppress(OSError, AttributeError):
                priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        def run() -> None:
            if priority is not None:
                with contextlib.suppress(OSError, AttributeError):
                    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), priority)
            try:
                with app.app_context():
                    box["result"] = func()
            except BaseException as exc:  # handed to the waiting thread
                box["error"] = exc

        # The caller's context goes along (its log context and, with tracing, its span):
        # the work on the other thread is part of the same request, job or command.
        context = contextvars.copy_context()
        worker = threading.Thread(target=context.run, args=(run,), name=name, daemon=True)
        worker.start()

        def result() -> _T:
            worker.join()
            if "error" in box:
                raise box["error"]
            return box["result"]  # type: ignore[no-any-return]

        return result

    def _snapshot(
        self,
        name: ArchiveName,
        staging: Path,
        encrypted: bool,
        progress: Progress,
        schema: dict[str, int],
    ) -> dict[str, Any]:
        sources = self.sources()
        included: list[dict[str, Any]] = []
        skipped: list[dict[str, str]] = []
        for source in sources:
            if source.sensitive and not encrypted:
                skipped.append(
                    {"name": source.name, "reason": "holds keys; only in encrypted backups"}
                )
                continue
            progress(f"snapshot of {source.name}")
            dest = staging / source.name
            dest.mkdir(mode=0o700)
            source.snapshot(dest)
            schema.update(source.schema_versions())
            included.append({"name": source.name, "sensitive": source.sensitive})
        return {
            "format": 1,
            "id": name.id,
            "created_at": name.created_at.isoformat(),
            "trigger": name.trigger,
            "encrypted": encrypted,
            "app": {"name": "soulspot", "version": kernel_version},
            "plugins": api.enabled_plugins(self.app),
            "schema_versions": schema,
            "sources": included,
            "skipped": skipped,
        }

    def verify_sources(self, root: Path, manifest: Mapping[str, Any]) -> list[str]:
        registered = {s.name: s for s in self.sources()}
        problems: list[str] = []
        for entry in manifest.get("sources") or []:
            source = registered.get(entry.get("name"))
            src = root / str(entry.get("name"))
            if source is None or not src.is_dir():
                continue
            try:
                problems += [f"{source.name}: {p}" for p in source.verify(src)]
            except Exception as exc:
                problems.append(f"{source.name}: verification raised {type(exc).__name__}: {exc}")
        return problems

    def _failed(self, action: str, name: ArchiveName | None, exc: BaseException) -> None:
        from soulspot import api

        self.metrics.failures.inc()
        message = str(exc) if isinstance(exc, BackupError) else f"{type(exc).__name__}: {exc}"
        now = dt.datetime.now(dt.UTC).isoformat()

        def update(state: dict[str, Any]) -> None:
            state["last_failure"] = {"at": now, "action": action, "message": message[:500]}

        with contextlib.suppress(OSError):
            self._write_state(update)
        details: dict[str, Any] = {"action": action, "error": message[:500]}
        if name is not None:
            details["backup_id"] = name.id
            details["trigger"] = name.trigger
        api.audit("backup.failed", outcome="failed", **details)
        log.error("backup failed", extra=details)

    # --- verify ----------------------------------------------------------------------------

    def verify(
        self,
        ref: str,
        passphrase: str | None = None,
        progress: Progress = _quiet,
        *,
        force_unsigned: bool = False,
    ) -> list[str]:
        """Check the archive ``ref`` (an id here, or an archive file's path: the copy you
        will restore from): checksums, signature, each source's own check. Returns the
        problems (empty: sound); records the outcome of archives in the backup folder. An
        archive this install cannot authenticate is a problem unless ``force_unsigned``."""
        from soulspot import api

        from .restore import unauthenticated

        path = self.resolve(ref)
        parsed = parse_name(path.name)
        in_folder = parsed is not None and path.parent == self.dir
        ident = parsed.id if parsed is not None else str(path)
        passphrase = passphrase or self.default_passphrase()
        work = self.dir / f".verify-{os.getpid()}-{int(time.time())}"
        with self.lock:
            self.clean_stale()
            try:
                work.mkdir(mode=0o700)
                try:
                    result = read_archive(
                        path,
                        passphrase,
                        extract_to=work,
                        progress=progress,
                        keys=self.signing.keys(),
                    )
                except (NeedsPassphrase, WrongPassphrase) as exc:
                    api.audit("backup.verified", outcome="refused", backup_id=ident, error=str(exc))
                    raise
                problems = list(result.problems)
                if result.manifest is not None and not problems:
                    progress("verifying the snapshot of each source")
                    problems += self.verify_sources(work, result.manifest)
                if not problems and not result.authentic:
                    why = f"the archive {unauthenticated(result.signature)}"
                    if force_unsigned:
                        progress(f"WARNING: {why}; its checksums match (--force-unsigned)")
                    else:
                        problems.append(why)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            if in_folder:
                self.record_verification(ident, problems)
        api.audit(
            "backup.verified",
            outcome="ok" if not problems else "failed",
            backup_id=ident,
            problems=len(problems),
        )
        if problems and in_folder:
            self.metrics.failures.inc()
        return problems

    # --- restore ---------------------------------------------------------------------------

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

    def resolve(self, ref: str) -> Path:
        if valid_id(ref):
            return self.get(ref).path
        path = Path(ref).expanduser()
        if path.is_file():
            return path.resolve()
        raise BackupError(
            f"{ref!r} is neither a backup id nor an archive file (see `soulspot backup list`)"
        )

    def set_aside_dir(self) -> str | None:
        """Where start-up moved this app's unreadable database (``None``: it did not)."""
        return set_aside_dir(self.app)

    def config_path(self) -> Path:
        """Where the config file is (or, without one, where a restored one goes)."""
        return Path(api.config_path(self.app) or DEFAULT_CONFIG_PATH).resolve()

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
        from soulspot import api

        with self.lock:
            doomed = to_prune(self.candidates(), self.policy())
            for ident in doomed:
                progress(f"pruning {ident}")
                self._remove(ident)
        if doomed:
            api.audit("backup.pruned", count=len(doomed), backup_ids=doomed)
        return doomed

    def delete(self, ident: str) -> BackupInfo:
        from soulspot import api

        with self.lock:
            info = self.get(ident)
            self._remove(ident)
        api.audit("backup.deleted", backup_id=ident, trigger=info.trigger)
        return info

    def _remove(self, ident: str) -> None:
        info = self.get(ident)
        info.path.unlink()
        fsync_dir(self.dir)
        self._write_state(lambda s: s["verified"].pop(ident, None))

    # --- schedule --------------------------------------------------------------------------

    def interval_seconds(self) -> float | None:
        """The time between scheduled backups (for cron: between its next two runs)."""
        if self.config.schedule == "interval":
            return self.config.interval_hours * 3600
        if self.config.schedule == "cron":
            from soulspot.cron import trigger

            cron = trigger(self.config.cron, self.config.timezone)
            now = dt.datetime.now(dt.UTC)
            first = cron.get_next_fire_time(None, now)
            second = cron.get_next_fire_time(first, first + dt.timedelta(seconds=1))
            if first is None or second is None:
                return None
            return float((second - first).total_seconds())
        return None

    def overdue(self) -> bool:
        interval = self.interval_seconds()
        if interval is None:
            return False
        newest = self.newest_verified()
        if newest is None:
            return True
        age = (dt.datetime.now(dt.UTC) - newest.created_at).total_seconds()
        return age > interval

    def scheduled_run(self) -> str:
        """The scheduled job: back up, then apply retention."""
        from soulspot import api

        context = api.storage().connection() if api.has_storage() else contextlib.nullcontext()
        with context:
            info = self.create("scheduled")
            self.prune()
        return info.id


def serving_pid(backups: Path) -> int | None:
    """The pid of a ``soulspot serve`` holding ``<backups>/.serving``, if one runs."""
    path = backups / ".serving"
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def refuse_if_interrupted(app: Flask) -> None:
    """Start-up after a killed restore: a mark in ``staging`` (nothing live replaced) is
    cleared with a warning; one in ``swapping`` refuses start-up, naming the commands that
    finish or roll back, except for the restore command itself (``RECOVERY``)."""
    from soulspot.datadir import holder
    from soulspot.plugins import PluginError

    from . import marker

    data_dir = api.data_dir(app)
    info = marker.read(data_dir)
    if info is None:
        return
    running = holder(data_dir)
    if running is not None:
        raise PluginError(
            f"a restore of backup {info.get('backup', '?')} is running ({running}); "
            "try again when it has finished"
        )
    if info.get("state") == marker.STAGING:
        marker.clear(data_dir)
        log.warning(
            "an interrupted restore stopped before it replaced anything; its mark was removed",
            extra={"backup_id": info.get("backup")},
        )
        return
    if not RECOVERY.get():
        raise PluginError(marker.refusal(info, data_dir))


def set_aside_if_unreadable(app: Flask, store: Any) -> Path | None:
    """In recovery (``RECOVERY`` set): when the store's database file cannot even be opened,
    move it (and its ``-wal``/``-shm``) into ``<backups>/set-aside-<time>/`` so the store
    starts on an empty file and the restore can run. Returns where they went."""
    import sqlite3

    if not RECOVERY.get():
        return None
    path = getattr(store, "path", None)
    if path is None or not Path(path).is_file():
        return None
    db = Path(path)
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
        return None
    except sqlite3.DatabaseError as exc:
        problem = str(exc)
    config = _config(app)
    backups = (config.dir or api.data_dir(app) / "backups").expanduser().resolve()
    if serving_pid(backups) is not None:
        return None  # never under a running server; the restore command refuses then
    aside = backups / f"set-aside-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    aside.mkdir(mode=0o700, parents=True, exist_ok=True)
    for item in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if item.exists():
            os.replace(item, aside / item.name)
    fsync_dir(db.parent)
    log.warning(
        "the database cannot be opened; moved aside for the restore",
        extra={"error": problem, "dir": str(aside)},
    )
    api.set_state_for(SET_ASIDE, str(aside), app)
    return aside


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
#: State key: where a database that could not be opened was set aside at start-up.
SET_ASIDE = "soulspot.backup.set_aside"


def set_aside_dir(app: Flask) -> str | None:
    """Where :func:`set_aside_if_unreadable` moved this app's database (``None``: it did not)."""
    try:
        return cast(str, api.state_for(SET_ASIDE, app))
    except LookupError:
        return None
