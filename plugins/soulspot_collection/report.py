"""The status report shared by ``soulspot collection status``, the page and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from soulspot import api

from .models import Scan
from .overview import shares


def _when(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def scan_dict(scan: Scan | None) -> dict[str, Any] | None:
    if scan is None:
        return None
    return {
        "id": scan.id,
        "status": scan.status,
        "full": bool(scan.full),
        "started_at": _when(scan.started_at),
        "finished_at": _when(scan.finished_at),
        "seconds": round(scan.finished_at - scan.started_at, 2) if scan.finished_at else None,
        "files_seen": scan.files_seen,
        "files_read": scan.files_read,
        "files_new": scan.files_new,
        "files_changed": scan.files_changed,
        "files_removed": scan.files_removed,
        "unreadable": scan.unreadable,
        "problems": scan.error.splitlines() if scan.error else [],
    }


def status_report(svc: Any) -> dict[str, Any]:
    standing = svc.standing()
    try:
        vault = api.library()
    except RuntimeError:  # no library plugin enabled: nothing to match against
        vault = None
    return {
        "music_dirs": [str(p) for p in svc.config.music_dirs],
        "files": svc.file_counts(),
        "tracks": svc.counts(),
        "last_scan": scan_dict(svc.last_scan()),
        "library": vault is not None,
        "lists": shares(vault, standing) if vault is not None else [],
    }
