"""Restoring a backup: nothing acknowledged is lost, and success is claimed only when true.

Order (each step says what the operator sees when it fails):

1. **check**, while the app still serves: unpack the archive into a work folder in the backup
   folder (free space checked first), checksums, signature (an unsigned archive or one signed
   by an unknown key is refused unless forced), each source's own check, a newer schema, and
   every source in the archive must have a plugin here to restore it (the config file may be
   skipped: ``--skip-config``, or when it is not writable). Failure: refused, nothing changed.
2. **maintenance**: new requests get 503, and the step waits until requests already past the
   gate have ended, so every write a client was told about is in the next step's copy.
3. **pre-restore backup** of the current data. A full backup folder refuses the restore
   (nothing changed); only data too damaged to back up is set aside as raw files instead.
4. **stage**, with the mark ``restore-in-progress.json`` (:mod:`.marker`) in state
   ``staging``: every source that can puts its files beside the live ones (the database is
   checked against the schema this code makes and gets the live audit log added). Failure:
   staged files removed, nothing changed.
5. **swap**, mark in state ``swapping``: renames, one source right after the other, then
   migrations of an older archive. Failure: what was swapped is put back from the
   pre-restore backup; if that fails too, the mark stays and start-up names the commands
   that finish or roll back. A kill here leaves the mark: same.
6. mark removed, audit ``backup.restored``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soulspot.api import atomic_write
from soulspot.errors import is_disk_full
from soulspot.types import BackupSource, StagedRestore

from . import marker
from .archive import (
    BackupError,
    NeedsPassphrase,
    WrongPassphrase,
    is_encrypted,
    parse_name,
    valid_id,
)
from .reading import read_archive
from .signing import unauthenticated

if TYPE_CHECKING:  # pragma: no cover
    from .service import BackupService

log = logging.getLogger("soulspot.backup")
Progress = Callable[[str], None]
CONFIG_SOURCE = "config"
#: How long a restore waits for requests in flight before it gives up (nothing changed).
DRAIN_SECONDS = 60.0


@dataclass
class Plan:
    """What the check step found: the sources to restore, in the archive's order."""

    manifest: dict[str, Any]
    sources: list[str]
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    forced: bool = False


def run(
    svc: BackupService,
    ref: str,
    passphrase: str | None,
    progress: Progress,
    *,
    force_unsigned: bool = False,
    skip_config: bool = False,
) -> dict[str, Any]:
    from soulspot import api
    from soulspot.inflight import StillBusy

    with svc.lock:
        svc.clean_stale()
        path = svc.resolve(ref)
        parsed = parse_name(path.name)
        ident = parsed.id if parsed is not None else str(path)
        in_folder = parsed is not None and path.parent == svc.dir
        passphrase = passphrase or svc.default_passphrase()
        work = svc.dir / f".restore-{os.getpid()}-{int(time.time())}"
        try:
            work.mkdir(mode=0o700)
            plan = _check(
                svc, path, ident, in_folder, passphrase, work, progress, force_unsigned, skip_config
            )
            pre_passphrase = passphrase if is_encrypted(path) else None
            # With replication on, Litestream must not watch the file while it is swapped:
            # it would keep the replaced file's WAL open and ship nothing from then on.
            replica = api.point_in_time_source()
            paused = replica.paused() if replica is not None else contextlib.nullcontext()
            try:
                with (
                    api.maintenance(f"restoring backup {ident}", drain_seconds=DRAIN_SECONDS),
                    paused,
                ):
                    return _replace(svc, ident, plan, work, pre_passphrase, progress)
            except StillBusy as exc:
                message = f"backup {ident} was not restored: {exc}; nothing was changed"
                _refuse(ident, message)
                raise BackupError(message) from None
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _check(
    svc: BackupService,
    path: Path,
    ident: str,
    in_folder: bool,
    passphrase: str | None,
    work: Path,
    progress: Progress,
    force_unsigned: bool,
    skip_config: bool,
) -> Plan:
    from soulspot import api

    progress(f"verifying {path.name}")
    try:
        result = read_archive(
            path, passphrase, extract_to=work, progress=progress, keys=svc.signing.keys()
        )
    except (NeedsPassphrase, WrongPassphrase) as exc:
        _refuse(ident, str(exc))
        raise
    problems = list(result.problems)
    if result.manifest is not None and not problems:
        problems += svc.verify_sources(work, result.manifest)
    if any(p.startswith("not enough free space") for p in problems):
        message = f"backup {ident} was not restored: " + "; ".join(problems)
        _refuse(ident, message)
        raise BackupError(message)
    if result.manifest is None or problems:
        message = f"backup {ident} is damaged and was not restored: " + "; ".join(problems)
        if in_folder:
            svc.record_verification(ident, problems)
        _refuse(ident, message)
        raise BackupError(message)
    manifest = result.manifest
    archived: dict[str, int] = dict(manifest.get("schema_versions") or {})
    heads: dict[str, int] = dict(api.storage().head_versions()) if api.has_storage() else {}
    newer = [
        f"{plugin} schema {version} (this install knows up to {heads[plugin]})"
        for plugin, version in sorted(archived.items())
        if plugin in heads and version > heads[plugin]
    ]
    if newer:
        version = (manifest.get("app") or {}).get("version", "?")
        message = (
            f"backup {ident} comes from a newer SoulSpot ({version}) with a newer "
            f"schema: {', '.join(newer)}. Upgrade SoulSpot to at least that version, "
            "then restore; nothing was changed."
        )
        _refuse(ident, message)
        raise BackupError(message)
    plan = Plan(manifest, [])
    if not result.authentic:
        why = unauthenticated(result.signature)
        if not force_unsigned:
            message = (
                f"backup {ident} {why}, so it cannot be told apart from a changed copy; "
                "nothing was changed. If you trust this copy, restore it with "
                "--force-unsigned (see docs/backup.md)."
            )
            _refuse(ident, message)
            raise BackupError(message)
        progress(
            f"WARNING: backup {ident} {why}. Restoring it anyway (--force-unsigned): a changed "
            "copy could hold sessions, settings or a config of someone else's choosing. Its "
            "database schema is still checked."
        )
        plan.forced = True
    registered = {s.name: s for s in svc.sources()}
    wanted = [str(e.get("name")) for e in manifest.get("sources") or []]
    missing = [n for n in wanted if n not in registered]
    if missing:
        message = (
            f"backup {ident} holds {', '.join(repr(n) for n in missing)}, which no enabled "
            "plugin restores here: enable the plugin that made it and restore again; nothing "
            "was changed."
        )
        _refuse(ident, message)
        raise BackupError(message)
    for name in wanted:
        if name == CONFIG_SOURCE:
            note = _config_note(svc, work / name, ident, skip_config)
            if note is not None:
                progress(note)
                plan.notes.append(note)
                plan.skipped.append(name)
                continue
        plan.sources.append(name)
    return plan


def _config_note(svc: BackupService, src: Path, ident: str, skip: bool) -> str | None:
    """Why the config file is not restored (``None``: it is)."""
    if not (src / "soulspot.toml").is_file():
        return None
    target = svc.config_path()
    reason = None
    if skip:
        reason = "--skip-config"
    elif not _writable(target):
        reason = f"{target} is not writable by this user"
    if reason is None:
        return None
    kept = svc.dir / f"config-from-{ident.rsplit('/', 1)[-1]}.toml"
    try:
        atomic_write(kept, (src / "soulspot.toml").read_bytes())
        where = f"; the archived copy is in {kept} to compare by hand"
    except OSError:
        where = ""
    return f"note: the config file was not restored ({reason}){where}"


def _writable(target: Path) -> bool:
    if target.exists():
        return os.access(target, os.W_OK) and os.access(target.parent, os.W_OK)
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return os.access(parent, os.W_OK)


def _replace(
    svc: BackupService,
    ident: str,
    plan: Plan,
    work: Path,
    pre_passphrase: str | None,
    progress: Progress,
) -> dict[str, Any]:
    """Steps 3-6, in maintenance."""
    from soulspot import api

    data_dir = api.data_dir()
    interrupted = marker.read(data_dir)
    if interrupted is not None and str(interrupted.get("pre_restore") or "?") != "?":
        # finishing (or replacing) an interrupted restore: the data now is a mix; the copy of
        # the state before that restore stays the one to roll back to
        pre_restore = str(interrupted["pre_restore"])
        progress(f"an interrupted restore is replaced; the state before it is in {pre_restore}")
    else:
        try:
            pre_restore = pre_restore_backup(svc, pre_passphrase, progress)
        except BackupError as exc:
            _refuse(ident, f"backup {ident} was not restored: {exc}", outcome="failed")
            raise
    registered = {s.name: s for s in svc.sources()}
    # The interrupted restore may have swapped sources already: until this one has swapped
    # them all, the data stays "mixed" (start-up keeps refusing), and a roll-back puts back
    # every source either run touched, not only this run's.
    mixed = interrupted is not None and interrupted.get("state") == marker.SWAPPING
    touched = list(plan.sources)
    if interrupted is not None:
        touched += [str(n) for n in interrupted.get("sources") or () if str(n) not in touched]
    # The pre-restore backup is encrypted with the default passphrase when the archive being
    # restored is plain (create() falls back to it): the roll-back must read it with that.
    rollback_passphrase = pre_passphrase or svc.default_passphrase()
    info = {
        "backup": ident,
        "pre_restore": pre_restore,
        "sources": touched if mixed else plan.sources,
        "force_unsigned": plan.forced,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "pid": os.getpid(),
        "state": marker.SWAPPING if mixed else marker.STAGING,
    }
    marker.write(data_dir, info)
    staged: dict[str, StagedRestore] = {}
    try:
        for name in plan.sources:
            source = registered[name]
            if source.stage is not None:
                progress(f"staging {name}")
                staged[name] = source.stage(work / name)
    except Exception as exc:
        for item in staged.values():
            item.discard()
        if mixed and interrupted is not None:
            marker.write(data_dir, interrupted)  # still mixed: start-up keeps refusing
            message = (
                f"backup {ident} was not restored: {name}: {_describe(exc)}; nothing more "
                "was changed, and the interrupted restore is still to be finished or rolled "
                "back"
            )
        else:
            marker.clear(data_dir)
            message = (
                f"backup {ident} was not restored: {name}: {_describe(exc)}; nothing was changed"
            )
        _refuse(ident, message, outcome="failed")
        raise BackupError(message) from exc
    marker.write(data_dir, {**info, "state": marker.SWAPPING})
    attempted: list[str] = []
    done: list[str] = []
    svc.restoring = ident
    try:
        for name in plan.sources:
            attempted.append(name)
            progress(f"restoring {name}")
            if name in staged:
                staged[name].swap()
            else:
                registered[name].restore(work / name)
            done.append(name)
        applied: list[str] = []
        if api.has_storage():  # an older archive is migrated to this code
            progress("applying pending migrations to the restored data")
            applied = list(api.storage().upgrade())
    except Exception as exc:
        for name, item in staged.items():
            if name not in attempted:
                item.discard()
        to_undo = touched if mixed else attempted
        undone, clean = roll_back(svc, pre_restore, to_undo, rollback_passphrase, progress)
        if clean:
            marker.clear(data_dir)
        message = f"restore of {ident} failed: {_describe(exc)}. {undone}"
        _refuse(ident, message, outcome="failed")
        raise BackupError(message) from exc
    finally:
        svc.restoring = None
    marker.clear(data_dir)
    summary: dict[str, Any] = {
        "backup_id": ident,
        "pre_restore": pre_restore,
        "sources": done,
        "skipped": plan.skipped,
        "notes": plan.notes,
        "migrations": applied,
        "forced_unsigned": plan.forced,
    }
    api.audit("backup.restored", **summary)
    log.info("backup restored", extra=summary)
    return summary


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, BackupError) else f"{type(exc).__name__}: {exc}"


def _refuse(ident: str, message: str, outcome: str = "refused") -> None:
    """Record a restore that did not happen. Not a failed *backup*: the backup failure
    metric and the health check's "last backup attempt failed" are left alone."""
    from soulspot import api

    api.audit("backup.restored", outcome=outcome, backup_id=ident, error=message[:500])
    log.warning("restore not done", extra={"backup_id": ident, "error": message[:500]})


def pre_restore_backup(svc: BackupService, passphrase: str | None, progress: Progress) -> str:
    """A pre-restore backup; when the current data is too damaged for one, copy its files as
    they are into ``set-aside-<time>/`` and go on. A full backup folder is no reason to go
    on without a copy: that refuses the restore."""
    from soulspot import api

    early = svc.set_aside_dir()
    if early is not None:
        progress(f"the database could not be opened; it was set aside as it was in {early}")
        return str(early)
    progress("taking a pre-restore backup of the current data")
    try:
        return str(svc.create("pre-restore", passphrase, progress).id)
    except Exception as exc:
        if is_disk_full(exc):
            raise BackupError(
                f"the pre-restore backup failed: the backup folder {svc.dir} is full "
                f"({_free(svc.dir)} free). Free space there (or set [plugins.backup] dir to a "
                "bigger disk) and restore again; nothing was changed."
            ) from exc
        aside = svc.dir / f"set-aside-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
        aside.mkdir(mode=0o700, exist_ok=True)
        files: list[Path] = []
        if api.has_storage() and api.storage().path is not None:
            db = Path(api.storage().path)  # type: ignore[arg-type]
            files += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        files.append(svc.config_path())
        for item in files:
            if item.exists():
                shutil.copy2(item, aside / item.name)
        progress(
            f"the current data could not be backed up ({exc}); its files were set aside "
            f"as they are in {aside}"
        )
        log.warning("pre-restore backup failed; files set aside", extra={"dir": str(aside)})
        return str(aside)


def _free(folder: Path) -> str:
    try:
        return f"{shutil.disk_usage(folder).free / 1e6:.1f} MB"
    except OSError:
        return "unknown"


def roll_back(
    svc: BackupService,
    pre_restore: str,
    done: list[str],
    passphrase: str | None,
    progress: Progress,
) -> tuple[str, bool]:
    """Put back, from the pre-restore backup, what a failed restore already replaced.
    Returns a sentence for the error message, and whether everything was put back."""
    if not done:
        return "Nothing was changed.", True
    if not valid_id(pre_restore):
        return (
            f"Already replaced: {', '.join(done)}; the files from before are in {pre_restore}.",
            False,
        )
    progress(f"rolling back {', '.join(done)} from {pre_restore}")
    registered: dict[str, BackupSource] = {s.name: s for s in svc.sources()}
    work = svc.dir / f".restore-rollback-{os.getpid()}"
    put_back: list[str] = []
    failed: list[str] = []
    try:
        work.mkdir(mode=0o700)
        result = read_archive(
            svc.get(pre_restore).path, passphrase, extract_to=work, keys=svc.signing.keys()
        )
        if result.manifest is None or result.problems:
            raise BackupError("; ".join(result.problems) or "no manifest")
        for name in reversed(done):
            if name not in registered or not (work / name).is_dir():
                # not in the pre-restore backup (a sensitive source left out of a plain
                # one): say so instead of claiming everything was put back
                failed.append(f"{name} (not in {pre_restore})")
                continue
            try:
                registered[name].restore(work / name)
                put_back.append(name)
            except Exception as exc:  # go on with the others
                log.error("roll-back of one source failed", exc_info=exc)
                failed.append(f"{name} ({exc})")
    except Exception as exc:
        log.error("roll-back after a failed restore failed", exc_info=exc)
        return (
            f"Rolling back {', '.join(done)} from {pre_restore} failed too ({exc}): "
            f"restore {pre_restore} by hand (soulspot backup restore {pre_restore} --yes).",
            False,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        return (
            f"Put back from {pre_restore}: {', '.join(put_back) or 'nothing'}; could not put "
            f"back: {', '.join(failed)}.",
            False,
        )
    return f"The state from before was put back from {pre_restore}.", True
