"""The pooled, timed SQLite database: every query timed, transient locks retried.

``SoulspotSqliteDatabase`` is peewee's ``PooledSqliteDatabase`` (connections reused: opening
one costs about half a millisecond) with two additions in ``execute_sql`` and ``begin``:

* each statement is timed and handed to an observer (histogram, slow-query log);
* "database is locked" after SQLite's own ``busy_timeout`` is retried with bounded,
  jittered back-off, as long as retrying is safe: a statement outside a transaction
  (autocommit: it had no effect) or the ``BEGIN`` that opens one.
* writers of this process queue on one in-process lock (``BEGIN IMMEDIATE``/``EXCLUSIVE``
  until COMMIT/ROLLBACK, and single autocommit writes) before they ask SQLite. SQLite's busy
  handler polls with sleeps of up to 100 ms, so threads competing inside SQLite see long
  tail latencies; a lock hands over at once. SQLite's own locking still guards against
  other processes (the CLI, a second server).
"""

from __future__ import annotations

import collections
import logging
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import peewee
from playhouse.pool import PooledSqliteDatabase

log = logging.getLogger("soulspot.sqlite")

#: ``observer(sql, params, seconds, error)`` is called after every statement.
Observer = Callable[[str, Any, float, BaseException | None], None]

_LOCKED = ("database is locked", "database is busy", "database table is locked")
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_WRITE_STATEMENT = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def is_locked_error(exc: BaseException) -> bool:
    return isinstance(exc, peewee.OperationalError | sqlite3.OperationalError) and any(
        marker in str(exc).lower() for marker in _LOCKED
    )


def redact_sql(sql: str) -> str:
    """SQL fit for a log line: parameters are never part of it (peewee binds them); string
    literals written into the SQL text are replaced by ``'?'`` too."""
    return _STRING_LITERAL.sub("'?'", " ".join(sql.split()))


class FairLock:
    """A FIFO lock: ownership passes straight to the longest waiter, so a thread that writes
    in a tight loop cannot take the lock again ahead of threads already waiting (what makes a
    plain lock's tail latency long)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: collections.deque[threading.Lock] = collections.deque()
        self._owned = False

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._owned and not self._waiters:
                self._owned = True
                return True
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(timeout=timeout):
            return True
        with self._mutex:
            try:
                self._waiters.remove(waiter)
            except ValueError:  # handed over right as the wait timed out: it is ours
                return True
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # still owned: now by that waiter
            else:
                self._owned = False

    def locked(self) -> bool:
        with self._mutex:
            return self._owned


class SoulspotSqliteDatabase(PooledSqliteDatabase):  # type: ignore[misc]
    """One per app. ``observer`` and ``retry_seconds`` are set by the store."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 5000,
        retry_seconds: float = 30.0,
        max_connections: int = 32,
        wal_autocheckpoint: int = 1000,
    ) -> None:
        super().__init__(
            str(path),
            max_connections=max_connections,
            stale_timeout=600,
            timeout=max(busy_timeout_ms / 1000.0, 1.0) + retry_seconds,  # wait for a free slot
            pragmas=[
                ("journal_mode", "wal"),
                ("busy_timeout", busy_timeout_ms),
                ("foreign_keys", 1),
                ("synchronous", synchronous),
                # 0 when a replicator owns checkpoints (replication plugin): SQLite's own
                # checkpoint after a commit would otherwise race it for the WAL.
                ("wal_autocheckpoint", wal_autocheckpoint),
            ],
            check_same_thread=False,
        )
        # sqlite3's ``timeout`` (peewee's documented ``timeout`` property; the pool's own
        # ``timeout`` above is how long to wait for a free connection) is the busy timeout.
        self.timeout = busy_timeout_ms / 1000.0
        self.retry_seconds = retry_seconds
        self.observer: Observer | None = None
        self.lock_retries = 0
        # Every transaction (``db.atomic()`` of any plugin too) takes the write lock up
        # front: a deferred one that reads, then writes, can fail with SQLITE_BUSY at once
        # (no busy wait helps) when another connection wrote in between. (Applied in
        # ``begin``: peewee's own ``lock_type`` argument exists only from 4.5.)
        self.default_lock_type = "IMMEDIATE"
        self.writer_lock = FairLock()
        self.writer_wait = busy_timeout_ms / 1000.0 + retry_seconds
        self.held = threading.local()

    # -- the in-process writer queue ---------------------------------------------------------

    def take_writer_turn(self) -> bool:
        """Take the writer lock unless this thread holds it; True when taken now."""
        if getattr(self.held, "writer", False):
            return False
        if not self.writer_lock.acquire(timeout=self.writer_wait):
            raise peewee.OperationalError("database is locked (waited for another writer)")
        self.held.writer = True
        return True

    def end_writer_turn(self) -> None:
        if getattr(self.held, "writer", False):
            self.held.writer = False
            self.writer_lock.release()

    # -- retries -------------------------------------------------------------------------

    def with_lock_retries(self, action: Callable[[], Any], retry_allowed: bool) -> Any:
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.005
        while True:
            try:
                return action()
            except (peewee.OperationalError, sqlite3.OperationalError) as exc:
                if not (retry_allowed and is_locked_error(exc)):
                    raise
                if time.monotonic() + delay > deadline:
                    log.error(
                        "database still locked after retrying; giving up",
                        extra={"retry_seconds": self.retry_seconds},
                    )
                    raise
                self.lock_retries += 1
                time.sleep(delay * (0.5 + random.random()))  # noqa: S311  # nosec B311
                delay = min(delay * 2, 0.5)

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        start = time.perf_counter()
        error: BaseException | None = None
        autocommit = not self.in_transaction()
        queued = autocommit and _WRITE_STATEMENT.match(sql) is not None and self.take_writer_turn()
        try:
            return self.with_lock_retries(
                lambda: PooledSqliteDatabase.execute_sql(self, sql, params),
                retry_allowed=autocommit,
            )
        except BaseException as exc:
            error = exc
            raise
        finally:
            if queued:
                self.end_writer_turn()
            observer = self.observer
            if observer is not None:
                observer(sql, params, time.perf_counter() - start, error)

    def begin(self, lock_type: str | None = None) -> None:
        start = time.perf_counter()
        kind = (lock_type or self.default_lock_type or "").upper()
        statement = f"BEGIN {kind}".strip()
        error: BaseException | None = None
        queued = kind in ("IMMEDIATE", "EXCLUSIVE") and self.take_writer_turn()
        try:
            self.with_lock_retries(
                lambda: PooledSqliteDatabase.begin(self, kind or None), retry_allowed=True
            )
        except BaseException as exc:
            error = exc
            if queued:
                self.end_writer_turn()
            raise
        finally:
            observer = self.observer
            if observer is not None:
                observer(statement, None, time.perf_counter() - start, error)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_writer_turn()
        self.run_deferred_work()  # a failed COMMIT is followed by ROLLBACK, which runs it

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_writer_turn()
            self.run_deferred_work()

    # -- work that must survive the caller's transaction ---------------------------------------

    def after_transaction(self, func: Callable[[], None]) -> None:
        """Run ``func`` now, or, inside a transaction, right after it ends, committed *or*
        rolled back (an audit event of a failed action must not vanish with its rollback)."""
        if not self.in_transaction():
            func()
            return
        pending = getattr(self.held, "after", None)
        if pending is None:
            pending = self.held.after = []
        pending.append(func)

    def run_deferred_work(self) -> None:
        if self.in_transaction():
            return
        pending = getattr(self.held, "after", None)
        while pending:
            func = pending.pop(0)
            try:
                func()
            except Exception:
                log.exception("work deferred until after a transaction failed")

    def release_thread_connection(self) -> None:
        """Give this thread's connection back to the pool (no-op inside a transaction)."""
        if not self.is_closed() and not self.in_transaction():
            self.close()
