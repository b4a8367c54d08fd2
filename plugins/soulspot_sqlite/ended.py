"""A signal between processes sharing one database: "sessions were ended".

Each process keeps the sessions it read recently in memory (``session_cache_seconds``). A
session ended by another process (``soulspot sessions revoke`` while the server runs) must
stop working at once, not when the cached copy times out. Asking SQLite on every request
would cost the query the cache saves, so the process that ends sessions appends a byte to
a small file next to the database after its transaction commits, and a process serving a
session from memory first compares that file's ``stat`` (inode, size, mtime: a system call,
no read) with what it saw last. Any change drops the whole cache; the next read goes to the
database, which already has the rows deleted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("soulspot.sqlite")

#: The file's name is the database's with this suffix (``soulspot.db-sessions-ended``).
SUFFIX = "-sessions-ended"
#: The file is emptied when it reaches this size (emptying is a change, too).
MAX_BYTES = 4096

Signature = tuple[int, int, int] | None


class SessionsEnded:
    """The signal of one database file (``None``: an in-memory database, nothing shared)."""

    def __init__(self, database: Path | None) -> None:
        self.path = database.with_name(database.name + SUFFIX) if database is not None else None
        self.seen: Signature = self.signature()

    def signature(self) -> Signature:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def unchanged(self) -> bool:
        """Whether the file is as it was last seen. Only a system call: callers make it
        without holding their locks (threads serving sessions queue on none)."""
        return self.signature() == self.seen

    def act_on_change(self, drop: Callable[[], None]) -> None:
        """Call ``drop`` if the file changed since it was last seen, *then* remember the new
        state: a thread for which :meth:`unchanged` is true meanwhile finds whatever
        ``drop`` removed already gone. Call it under the lock that guards what ``drop``
        empties."""
        current = self.signature()
        if current != self.seen:
            drop()
            self.seen = current

    def announce(self) -> None:
        """Tell every process that sessions were ended (call after the commit). Never
        raises: the rows are gone already; at worst another process's cached copy lives
        on for ``session_cache_seconds``, and the log says so."""
        if self.path is None:
            return
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            if self.signature() is not None and os.path.getsize(self.path) >= MAX_BYTES:
                flags |= os.O_TRUNC
            fd = os.open(self.path, flags, 0o600)
            try:
                os.write(fd, b".")
            finally:
                os.close(fd)
        except OSError as exc:
            log.warning(
                "could not tell other processes that sessions ended",
                extra={"path": str(self.path), "error": str(exc)},
            )
