"""The "restore in progress" mark: ``<data_dir>/restore-in-progress.json``.

A restore writes it (fsynced) before it stages anything beside the live files, and removes it
once every source is swapped in and migrated. Found at start, it means a restore was killed:

* in ``staging``, nothing live was replaced yet: the staged files are thrown away, the mark
  removed, and start-up goes on (with a warning in the log);
* in ``swapping``, some sources may be restored and others not (a database with tokens
  encrypted under keys that are not there): SoulSpot refuses to start, naming the command
  that finishes the restore and the one that rolls back to the pre-restore backup.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from soulspot.api import atomic_write, fsync_dir

MARKER_NAME = "restore-in-progress.json"
STAGING = "staging"
SWAPPING = "swapping"


def path(data_dir: Path) -> Path:
    return Path(data_dir) / MARKER_NAME


def write(data_dir: Path, info: dict[str, Any]) -> None:
    atomic_write(path(data_dir), json.dumps(info, indent=2, sort_keys=True))


def read(data_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path(data_dir).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"state": SWAPPING, "backup": "?", "pre_restore": "?"}  # damaged: assume worst
    return data if isinstance(data, dict) else {"state": SWAPPING}


def clear(data_dir: Path) -> None:
    path(data_dir).unlink(missing_ok=True)
    fsync_dir(data_dir)


def refusal(info: dict[str, Any], data_dir: Path) -> str:
    """The message start-up refuses with while an interrupted restore's mark exists."""
    backup = str(info.get("backup") or "?")
    pre = str(info.get("pre_restore") or "?")
    force = " --force-unsigned" if info.get("force_unsigned") else ""
    lines = [
        f"an interrupted restore of backup {backup} (started {info.get('started_at', '?')}) "
        "may have left the data mixed: some parts restored, others not "
        f"({path(data_dir)} exists). SoulSpot will not start on it.",
        f"  finish the restore:      soulspot backup restore {backup}{force} --yes",
    ]
    if pre and pre != "?" and not pre.startswith("/"):
        lines.append(f"  or roll back to before:  soulspot backup restore {pre} --yes")
    elif pre and pre != "?":
        lines.append(f"  the files from before it were set aside in {pre}")
    return "\n".join(lines)
