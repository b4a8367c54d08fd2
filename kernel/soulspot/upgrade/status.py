"""The outcome of the last upgrade, kept in the data directory: ``soulspot deploy record``
writes it (``soulspot-upgrade`` runs that with the version left serving), the serving process
exposes it as metrics (the ``SoulSpotDeployFailed`` alert reads them) and
``soulspot deploy status`` shows it (the commands are in :mod:`soulspot.deploy_cli`; this module is
the file format alone, so :func:`soulspot.api.last_deploy` reads it without the CLI).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

FILE_NAME = "deploy-status.json"

#: Outcomes and the audit outcome each is recorded with.
OUTCOMES = {"upgraded": "ok", "rolled_back": "failed", "rollback_failed": "failed"}


def read_status(data_dir: Path) -> dict[str, Any]:
    """The recorded status, ``{}`` when there is none or it cannot be read (a metric scrape
    must not fail because of it)."""
    try:
        value = json.loads((data_dir / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_status(data_dir: Path, status: dict[str, Any]) -> None:
    from ..files import atomic_write

    atomic_write(data_dir / FILE_NAME, json.dumps(status, indent=2))


def updated(
    previous: dict[str, Any],
    outcome: str,
    from_version: str,
    to_version: str,
    reason: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """The new status after ``outcome``; success and failure times are kept apart so the alert
    can compare them."""
    stamp = now.timestamp()
    status = {
        "outcome": outcome,
        "from_version": from_version,
        "to_version": to_version,
        "reason": reason,
        "time": now.isoformat(),
        "last_success_timestamp": float(previous.get("last_success_timestamp", 0) or 0),
        "last_failure_timestamp": float(previous.get("last_failure_timestamp", 0) or 0),
    }
    key = "last_success_timestamp" if OUTCOMES[outcome] == "ok" else "last_failure_timestamp"
    status[key] = stamp
    return status
