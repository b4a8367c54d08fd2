"""What start-up and ``soulspot serve`` do for safe restores: the serving lock a restore
checks, the refusal after a killed restore, and setting aside a database too damaged to open
so that ``soulspot backup restore`` can start at all."""

from __future__ import annotations

import contextvars
import datetime as dt
import fcntl
import logging
import os
from pathlib import Path
from typing import Any, cast

from flask import Flask

from soulspot import api
from soulspot.api import fsync_dir

from .config import BackupConfig

log = logging.getLogger("soulspot.backup")

#: Set by ``soulspot backup restore`` while it builds the app: a database file too damaged to
#: open is then moved aside before the store starts (else the app could not start to restore).
RECOVERY: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "soulspot_backup_recovery", default=False
)
SERVING_FILE = ".serving"


def hold_serving_lock(backups: Path) -> int | None:
    """Lock ``<backups>/.serving`` (holding this process's pid) for as long as ``soulspot
    serve`` runs, so that a restore from the command line can tell it must not swap files
    under it. Returns the open descriptor to keep, ``None`` when another process holds it."""
    fd = os.open(backups / SERVING_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        log.warning("another SoulSpot process serves this data directory")
        return None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def serving_pid(backups: Path) -> int | None:
    """The pid of a ``soulspot serve`` holding ``<backups>/.serving``, if one runs."""
    path = backups / SERVING_FILE
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
    from soulspot.plugins import PluginError

    from . import marker

    data_dir = api.data_dir(app)
    info = marker.read(data_dir)
    if info is None:
        return
    running = api.data_dir_holder(app)
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
    try:
        found = api.config_for("backup", app)
    except KeyError:
        found = None
    config = found if isinstance(found, BackupConfig) else BackupConfig.model_validate({})
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


#: State key: where a database that could not be opened was set aside at start-up.
SET_ASIDE = "soulspot.backup.set_aside"


def set_aside_dir(app: Flask) -> str | None:
    """Where :func:`set_aside_if_unreadable` moved this app's database (``None``: it did not)."""
    try:
        return cast(str, api.state_for(SET_ASIDE, app))
    except LookupError:
        return None
