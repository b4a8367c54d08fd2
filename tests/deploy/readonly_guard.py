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

    def outside(path: object, dir_fd: object = None) -> str | None:
        if isinstance(path, int) or path is None:
            return None
        text = os.fsdecode(path) if isinstance(path, bytes | os.PathLike) else str(path)
        if isinstance(dir_fd, int) and dir_fd >= 0 and not os.path.isabs(text):
            # shutil.rmtree and friends work relative to an open directory
            text = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), text)
        real = os.path.realpath(text)
        for root in allowed:
            if real == root or real.startswith(root + os.sep):
                return None
        return real

    def hook(event: str, args: tuple[object, ...]) -> None:
        paths: list[tuple[object, object]] = []
        if event == "open":
            path, mode, flags = ([*list(args), None, None, None])[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS
            )
            if writes:
                paths.append((path, None))
        elif event in ("os.rename", "os.link"):
            src, dst, src_fd, dst_fd = ([*list(args), None, None, None, None])[:4]
            paths += [(src, src_fd), (dst, dst_fd)]
        elif event in ("os.remove", "os.rmdir"):
            paths.append((args[0], args[1] if len(args) > 1 else None))
        elif event == "os.mkdir":
            paths.append((args[0], args[2] if len(args) > 2 else None))
        elif event in PATH_EVENTS:
            paths.append((args[0], args[-1] if event in ("os.chmod", "os.chown") else None))
        for path, dir_fd in paths:
            bad = outside(path, dir_fd)
            if bad is not None and (event, bad) not in reported:
                reported.add((event, bad))
                os.write(2, f"READONLY-VIOLATION {event} {bad}\n".encode())

    sys.addaudithook(hook)
    from soulspot.cli import main as soulspot_main

    sys.argv = ["soulspot", *sys.argv[2:]]
    soulspot_main()


if __name__ == "__main__":
    main()
