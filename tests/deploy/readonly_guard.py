"""Run ``soulspot`` as in a read-only container: report every write outside allowed dirs.

Usage: ``python readonly_guard.py ALLOWED_DIR[:ALLOWED_DIR...] soulspot-args...``

A Python audit hook sees every file the interpreter opens for writing and every
mkdir/rename/remove/chmod; any of those outside the allowed directories (the data volume and
/tmp in the container) is printed to stderr as ``READONLY-VIOLATION <event> <path>``. SQLite's
own files are written by C code, but only ever inside the data dir, next to the database.
"""

from __future__ import annotations

import os
import sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
PATH_EVENTS = {
    "os.mkdir",
    "os.rename",
    "os.remove",
    "os.rmdir",
    "os.chmod",
    "os.chown",
    "os.link",
    "os.symlink",
    "os.truncate",
    "shutil.copyfile",
    "shutil.rmtree",
    "shutil.move",
}


def main() -> None:
    allowed = [os.path.realpath(p) for p in sys.argv[1].split(":")] + ["/dev"]
    reported: set[tuple[str, str]] = set()

    def outside(path: object) -> str | None:
        if isinstance(path, int) or path is None:
            return None
        text = os.fsdecode(path) if isinstance(path, bytes | os.PathLike) else str(path)
        real = os.path.realpath(text)
        for root in allowed:
            if real == root or real.startswith(root + os.sep):
                return None
        return real

    def hook(event: str, args: tuple[object, ...]) -> None:
        paths: list[object] = []
        if event == "open":
            path, mode, flags = ([*list(args), None, None, None])[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS
            )
            if writes:
                paths.append(path)
        elif event in PATH_EVENTS:
            paths.extend(args[:2] if event in ("os.rename", "shutil.move") else args[:1])
        for path in paths:
            bad = outside(path)
            if bad is not None and (event, bad) not in reported:
                reported.add((event, bad))
                os.write(2, f"READONLY-VIOLATION {event} {bad}\n".encode())

    sys.addaudithook(hook)
    from soulspot.cli import main as soulspot_main

    sys.argv = ["soulspot", *sys.argv[2:]]
    soulspot_main()


if __name__ == "__main__":
    main()
