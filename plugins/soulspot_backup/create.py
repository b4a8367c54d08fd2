"""Taking a backup: snapshot every source, check the snapshots, write the archive under a
temporary name, rename it, read it back against its checksums and signature.

The heavy part runs on a short-lived thread at a lower CPU priority, so that request threads
writing meanwhile go first when the CPUs are busy; a failure at any step is audited
(``backup.failed``), counted and recorded for the health check.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask

from soulspot import __version__ as kernel_version
from soulspot.api import fsync_dir
from soulspot.errors import is_disk_full

from .archive import (
    ArchiveName,
    BackupError,
    digest_file,
    new_name,
    staged_files,
    write_archive,
)
from .folder import BackupInfo
from .reading import read_archive

if TYPE_CHECKING:  # pragma: no cover
    from .service import BackupService

log = logging.getLogger("soulspot.backup")
Progress = Callable[[str], None]
_T = TypeVar("_T")


def create(
    svc: BackupService, trigger: str, passphrase: str | None, progress: Progress
) -> BackupInfo:
    """Take a backup, write it atomically, verify it; returns it. Raises
    :class:`BackupError` (after auditing ``backup.failed``) when any step fails."""
    from soulspot import api

    passphrase = passphrase or svc.default_passphrase()
    started = time.perf_counter()
    with svc.lock:
        svc.clean_stale()
        name = new_name(trigger, encrypted=bool(passphrase))
        staging = svc.dir / f".staging-{name.id}"
        tmp = svc.dir / f".tmp-{name.filename}"
        final = svc.dir / name.filename
        schema = dict(api.storage().schema_versions()) if api.has_storage() else {}

        def work() -> list[str]:
            manifest = _snapshot(svc, name, staging, bool(passphrase), progress, schema)
            files = [path for _, path in staged_files(staging)]
            # each source checks its snapshot while this thread hashes the same bytes (both
            # read the page cache and release the GIL: two CPUs, one pass of time); the
            # archive then refuses a file that no longer matches, so what was checked is what
            # is archived
            progress("verifying the snapshots")
            checking = in_thread(
                svc.app,
                lambda: svc.verify_sources(staging, manifest),
                name="soulspot-backup-check",
            )
            digests = {} if passphrase else {path: digest_file(path) for path in files}
            problems = checking()
            progress("writing the archive")
            write_archive(tmp, staging, manifest, passphrase, progress, digests, svc.signing.sign)
            os.replace(tmp, final)
            fsync_dir(svc.dir)
            progress(f"verifying {name.id}")
            check = read_archive(final, passphrase, progress=progress, keys=svc.signing.keys())
            problems += check.problems
            if check.signature != "signed" and not check.problems:
                problems.append(f"the new archive's signature does not verify ({check.signature})")
            return problems

        try:
            staging.mkdir(mode=0o700)
            problems = in_thread(svc.app, work, priority=10, name="soulspot-backup")()
            svc.record_verification(name.id, problems)
            if problems:
                raise BackupError(
                    f"backup {name.id} was written but does not verify: " + "; ".join(problems)
                )
        except Exception as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if is_disk_full(exc):
                free = shutil.disk_usage(svc.dir).free / 1e6
                full = BackupError(
                    f"backup failed: the backup folder {svc.dir} is full ({free:.1f} MB "
                    "free); free space there or set [plugins.backup] dir to a bigger disk"
                )
                record_failure(svc, "create", name, full)
                raise full from exc
            record_failure(svc, "create", name, exc)
            if isinstance(exc, BackupError):
                raise
            raise BackupError(f"backup failed: {type(exc).__name__}: {exc}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    duration = time.perf_counter() - started
    size = final.stat().st_size
    svc.metrics.duration.observe(duration)
    svc.metrics.last_success.set(name.created_at.timestamp())
    svc.metrics.size.set(size)
    svc.folder.clear_failure()
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
    return svc.get(name.id)


def in_thread(
    app: Flask, func: Callable[[], _T], priority: int | None = None, name: str = "soulspot-backup"
) -> Callable[[], _T]:
    """Start ``func`` on another thread with ``app``'s context, at CPU ``priority`` (nice;
    default: this thread's); the returned function waits for its result or re-raises its
    error."""
    box: dict[str, Any] = {}
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

    # The caller's context goes along (its log context and, with tracing, its span): the
    # work on the other thread is part of the same request, job or command.
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
    svc: BackupService,
    name: ArchiveName,
    staging: Path,
    encrypted: bool,
    progress: Progress,
    schema: dict[str, int],
) -> dict[str, Any]:
    """Every source's snapshot into ``staging/<source>``; returns the manifest so far. A
    sensitive source is left out of a plain backup (and listed as skipped)."""
    included: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for source in svc.sources():
        if source.sensitive and not encrypted:
            skipped.append({"name": source.name, "reason": "holds keys; only in encrypted backups"})
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
        "plugins": {p.name: p.version for p in svc.kernel.plugins if p.enabled},
        "schema_versions": schema,
        "sources": included,
        "skipped": skipped,
    }


def record_failure(
    svc: BackupService, action: str, name: ArchiveName | None, exc: BaseException
) -> None:
    """A failed backup: counted, recorded for the health check, audited, logged."""
    from soulspot import api

    svc.metrics.failures.inc()
    message = str(exc) if isinstance(exc, BackupError) else f"{type(exc).__name__}: {exc}"
    with contextlib.suppress(OSError):
        svc.folder.record_failure(action, message)
    details: dict[str, Any] = {"action": action, "error": message[:500]}
    if name is not None:
        details["backup_id"] = name.id
        details["trigger"] = name.trigger
    api.audit("backup.failed", outcome="failed", **details)
    log.error("backup failed", extra=details)
