"""Slow-request profiles: pyinstrument HTML reports in ``<data_dir>/profiles/`` (bounded)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("soulspot.observability.profiling")

#: Report file names we write (and the only ones we serve).
NAME_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[A-Za-z0-9_.-]{1,80}\.html$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_prune_lock = threading.Lock()


@dataclass(frozen=True)
class Profile:
    name: str
    size: int
    modified: dt.datetime


def start() -> Any:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    return profiler


def finish(
    profiler: Any,
    *,
    folder: Path,
    keep: int,
    elapsed_ms: float,
    threshold_ms: int,
    endpoint: str,
    request_id: str,
) -> Path | None:
    """Stop ``profiler``; write its HTML report when the request was slow."""
    profiler.stop()
    if elapsed_ms < threshold_ms:
        return None
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    slug = _UNSAFE.sub("_", f"{endpoint}-{request_id}")[:80]
    path = folder / f"{stamp}-{slug}.html"
    from soulspot.api import atomic_write

    atomic_write(path, profiler.output_html())
    log.info(
        "slow request profiled",
        extra={"profile": path.name, "duration_ms": round(elapsed_ms, 1), "endpoint": endpoint},
    )
    prune(folder, keep)
    return path


def prune(folder: Path, keep: int) -> None:
    with _prune_lock:
        reports = sorted(list_profiles(folder), key=lambda p: p.name, reverse=True)
        for old in reports[keep:]:
            with contextlib.suppress(FileNotFoundError):
                (folder / old.name).unlink()


def list_profiles(folder: Path) -> list[Profile]:
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        if NAME_RE.match(entry.name):
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            found.append(
                Profile(entry.name, stat.st_size, dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC))
            )
    return sorted(found, key=lambda p: p.name, reverse=True)
