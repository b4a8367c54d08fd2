"""``python -m soulspot_replication.watch PID``: exit once process PID is gone.

Litestream runs this as its ``-exec`` child and exits (after a last sync) when it does, so a
``soulspot serve`` killed with SIGKILL leaves no orphaned Litestream behind writing to the
replica of a database that may be restored or removed next.
"""

from __future__ import annotations

import os
import sys
import time


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str]) -> int:
    pid = int(argv[1])
    parent = os.getppid()  # Litestream: when it is gone too (killed), so is our job
    while alive(pid) and os.getppid() == parent:
        time.sleep(0.2)
    return 0


if __name__ == "__main__":  # pragma: no cover - run as Litestream's child
    sys.exit(main(sys.argv))
