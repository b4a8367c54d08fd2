"""Start-up messages for the person who started SoulSpot: the listening address, the setup
link. They go to stderr, never stdout: stdout carries the JSON log lines that `jq`, journald
and `docker compose logs` read, one object per line. On a terminal they are set apart from
the log lines around them (a blank line before, bold, coloured unless ``NO_COLOR`` is set)."""

from __future__ import annotations

import os
import sys
from typing import TextIO


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def announce(message: str, *, stream: TextIO | None = None) -> None:
    """Write ``message`` (one or more lines) to stderr for people, set apart on a terminal."""
    target = sys.stderr if stream is None else stream
    if not _is_terminal(target):
        target.write(message.rstrip("\n") + "\n")
        target.flush()
        return
    if os.environ.get("NO_COLOR"):
        start = end = ""
    else:
        start, end = "\033[1;36m", "\033[0m"  # bold cyan
    lines = message.rstrip("\n").splitlines()
    target.write("\n" + "".join(f"{start}>> {line}{end}\n" for line in lines) + "\n")
    target.flush()
