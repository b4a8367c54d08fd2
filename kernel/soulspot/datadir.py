"""Which process uses a data directory: ``soulspot serve`` and commands that replace data
(``backup restore``, ``db downgrade``) claim it; a second one is refused, naming the first.

The claim is an exclusive ``flock`` on ``<data_dir>/.soulspot.lock`` held for the life of the
process or block; the file says who holds it (pid and what it does), so the refusal can name
it. A process that dies releases its lock with its file descriptors: nothing stale is left.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .config import ConfigError

LOCK_NAME = ".soulspot.lock"


class DataDirBusy(ConfigError):
    """Another process holds the data directory (the message names it)."""


def holder(data_dir: Path) -> str | None:
    """``"pid N (what)"`` of the process holding ``data_dir``, or ``None`` when free (or held
    by this very process)."""
    path = Path(data_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = os.read(fd, 512).decode("utf-8", "replace").strip()
            if text.startswith(f"pid {os.getpid()} "):
                return None
            return text or "pid ? (unknown)"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def acquire(data_dir: Path, what: str) -> int:
    """Claim ``data_dir`` for ``what`` (``"soulspot serve on http://..."``); returns the lock's
    file descriptor (closing it releases the claim). Raises :class:`DataDirBusy`."""
    path = Path(data_dir) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        text = os.read(fd, 512).decode("utf-8", "replace").strip() or "pid ? (unknown)"
        os.close(fd)
        raise DataDirBusy(
            f"the data directory {data_dir} is in use by another SoulSpot process: {text}. "
            "Stop it first (or give this one its own [kernel] data_dir); nothing was changed."
        ) from None
    relabel(fd, what)
    return fd


def relabel(fd: int, what: str) -> None:
    """Say what the claim held on ``fd`` is for (the bound URL once it is known)."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} ({what})\n".encode(), 0)


@contextmanager
def claimed(data_dir: Path, what: str) -> Iterator[None]:
    """Hold the claim on ``data_dir`` for the block (re-entrant: a process that already holds
    it, the server restoring from its Backups page, goes straight in)."""
    if _held_here(data_dir):
        yield
        return
    fd = acquire(data_dir, what)
    try:
        yield
    finally:
        os.close(fd)


def _held_here(data_dir: Path) -> bool:
    try:
        text = (Path(data_dir) / LOCK_NAME).read_text("utf-8", "replace")
    except OSError:
        return False
    return text.startswith(f"pid {os.getpid()} ") and holder(data_dir) is None and _locked(data_dir)


def _locked(data_dir: Path) -> bool:
    fd = os.open(Path(data_dir) / LOCK_NAME, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
