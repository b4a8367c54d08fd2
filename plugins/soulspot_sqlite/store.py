"""The SQLite implementation of :class:`soulspot.stores.Storage`.

The stores use plain parameterised SQL on this app's own database object (not the shared
model proxy), so several apps in one process (tests) never write into each other's file.
Times are stored as UTC epoch seconds (REAL); naive datetimes are taken as UTC.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from soulspot.db import database as model_proxy
from soulspot.stores import (
    AuditStore,
    Cache,
    CacheStats,
    SessionRecord,
    SessionStore,
    SettingsStore,
    StatementListener,
)
from soulspot.types import AuditEvent, Migration

from .config import SqliteConfig
from .database import SoulspotSqliteDatabase
from .ended import SessionsEnded
from .migrate import Migrator, Step
from .observe import QueryObserver, StoreMetrics

log = logging.getLogger("soulspot.sqlite")

DB_FILENAME = "soulspot.db"


def _ts(when: dt.datetime) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _dt(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


class SqliteSessionStore:
    """Sessions by id, with the rows this process read recently kept in memory.

    A signed-in request asks for its session on every request; reading it from memory
    instead of the database is the difference between a pool check-out plus a query
    (and, under load, threads queueing for the GIL that SQLite releases) and a dict
    look-up. Every write through this store drops what it may have changed, so sign-out,
    revocation and expiry in this process take effect at once. Sessions ended by another
    process (``soulspot sessions revoke``) too: it says so through :class:`.ended.SessionsEnded`,
    which a cache hit checks first. Other changes made by another process (``last_seen``) are
    read again within ``session_cache_seconds``. Nothing is cached from inside a transaction
    (it may roll back), and a read that raced a write is not kept.
    """

    _COLUMNS = "id, user_id, created_at, last_seen, expires_at, ip, user_agent, data"
    MAX_CACHED = 1024

    def __init__(self, store: SqliteStorage, cache_seconds: float = 0.0) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._cached: dict[str, tuple[SessionRecord, float]] = {}
        self._generation = 0  # bumped by every write: a read older than it is not cached
        self._lock = threading.Lock()
        self.clock: Callable[[], float] = time.monotonic
        self.ended = SessionsEnded(store.path)

    def forget(self, session_id: str | None = None) -> None:
        """Drop one cached session, or all of them (writes, restore, migrations)."""
        with self._lock:
            self._generation += 1
            if session_id is None:
                self._cached.clear()
            else:
                self._cached.pop(session_id, None)

    @property
    def _db(self) -> SoulspotSqliteDatabase:
        return self._store.database

    @staticmethod
    def _record(row: tuple[Any, ...]) -> SessionRecord:
        return SessionRecord(
            id=row[0],
            user_id=row[1],
            created_at=_dt(row[2]),
            last_seen=_dt(row[3]),
            expires_at=_dt(row[4]),
            ip=row[5],
            user_agent=row[6],
            data=json.loads(row[7] or "{}"),
        )

    def create(self, record: SessionRecord) -> None:
        self._db.execute_sql(
            "INSERT INTO sessions (id, user_id, created_at, last_seen, expires_at, ip, "
            "user_agent, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.user_id,
                _ts(record.created_at),
                _ts(record.last_seen),
                _ts(record.expires_at),
                record.ip,
                record.user_agent,
                _dumps(dict(record.data)),
            ),
        )

    def _still_valid(self) -> bool:
        """False (and the cache emptied) when another process ended sessions since. The
        ``stat`` runs outside the lock (every signed-in request makes it: under the lock,
        request threads queued behind each other's system call)."""
        if self.ended.unchanged():
            return True
        with self._lock:
            self.ended.act_on_change(self._drop_all)
        return False

    def _drop_all(self) -> None:
        self._generation += 1
        self._cached.clear()

    def get(self, session_id: str) -> SessionRecord | None:
        if self._still_valid():  # first: an entry looked up before it may predate a revocation
            cached = self._cached.get(session_id)
            if cached is not None and cached[1] > self.clock():
                return cached[0]
        generation = self._generation
        row = self._db.execute_sql(
            "SELECT id, user_id, created_at, last_seen, expires_at, ip, user_agent, data "
            "FROM sessions WHERE id = ?",
            (session_id,),
        ).fetchone()
        if not row:
            return None
        record = self._record(row)
        if self._cache_seconds > 0 and not self._db.in_transaction():
            with self._lock:
                if generation == self._generation:
                    if len(self._cached) >= self.MAX_CACHED:
                        self._cached.clear()
                    self._cached[session_id] = (record, self.clock() + self._cache_seconds)
        return record

    def _write(self, sql: str, params: tuple[Any, ...], session_id: str | None) -> Any:
        """Run a write, then forget what it may have changed: right after the statement
        (a read that started before it is not cached: the generation moved) and again
        when the caller's transaction ends (a read in between saw the old, committed row)."""
        try:
            return self._db.execute_sql(sql, params)
        finally:
            self.forget(session_id)
            if self._db.in_transaction():
                self._db.after_transaction(lambda: self.forget(session_id))

    def touch(self, session_id: str, when: dt.datetime) -> None:
        self._write(
            "UPDATE sessions SET last_seen = ? WHERE id = ?", (_ts(when), session_id), session_id
        )

    def update_data(self, session_id: str, data: Mapping[str, Any]) -> None:
        self._write(
            "UPDATE sessions SET data = ? WHERE id = ?",
            (_dumps(dict(data)), session_id),
            session_id,
        )

    def _ended(self, count: int) -> int:
        """Rows deleted: tell other processes once the transaction (if any) has committed."""
        if count > 0:
            self._db.after_transaction(self.ended.announce)
        return count

    def delete(self, session_id: str) -> bool:
        cursor = self._write("DELETE FROM sessions WHERE id = ?", (session_id,), session_id)
        return bool(self._ended(cursor.rowcount))

    def delete_for_user(self, user_id: str) -> int:
        cursor = self._write("DELETE FROM sessions WHERE user_id = ?", (user_id,), None)
        return self._ended(int(cursor.rowcount))

    def list_active(self, now: dt.datetime) -> list[SessionRecord]:
        rows = self._db.execute_sql(
            "SELECT id, user_id, created_at, last_seen, expires_at, ip, user_agent, data "
            "FROM sessions WHERE expires_at > ? ORDER BY last_seen DESC",
            (_ts(now),),
        ).fetchall()
        return [self._record(row) for row in rows]

    def purge_expired(self, now: dt.datetime, idle_cutoff: dt.datetime) -> int:
        cursor = self._write(
            "DELETE FROM sessions WHERE expires_at <= ? OR last_seen < ?",
            (_ts(now), _ts(idle_cutoff)),
            None,
        )
        return self._ended(int(cursor.rowcount))

    def count_active(self, now: dt.datetime) -> int:
        row = self._db.execute_sql(
            "SELECT COUNT(*) FROM sessions WHERE expires_at > ?", (_ts(now),)
        ).fetchone()
        return int(row[0])


_AUDIT_SELECT = (
    "SELECT time, event, outcome, actor, ip, user_agent, request_id, details FROM audit_events"
)
_AUDIT_ORDER = " ORDER BY time DESC, id DESC LIMIT ? OFFSET ?"
_AUDIT_COUNT = "SELECT COUNT(*) FROM audit_events"


class SqliteAuditStore:
    """Append-only: ``append`` and retention (``prune_before``) are the only writes; a
    trigger in the database aborts any UPDATE of an event."""

    def __init__(self, store: SqliteStorage) -> None:
        self._store = store

    @property
    def _db(self) -> SoulspotSqliteDatabase:
        return self._store.database

    def append(self, event: AuditEvent) -> None:
        self._db.execute_sql(
            "INSERT INTO audit_events (time, event, outcome, actor, ip, user_agent, "
            "request_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _ts(event.time),
                event.event,
                event.outcome,
                event.actor,
                event.ip,
                event.user_agent,
                event.request_id,
                _dumps(dict(event.details)),
            ),
        )

    @staticmethod
    def _where(
        event: str | None, since: dt.datetime | None, until: dt.datetime | None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if event is not None:
            clauses.append("event = ?")
            params.append(event)
        if since is not None:
            clauses.append("time >= ?")
            params.append(_ts(since))
        if until is not None:
            clauses.append("time < ?")
            params.append(_ts(until))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def query(
        self,
        *,
        event: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[AuditEvent]:
        where, params = self._where(event, since, until)
        # ``where`` is built from constant fragments only; every value is a parameter.
        sql = _AUDIT_SELECT + where + _AUDIT_ORDER
        rows = self._db.execute_sql(
            sql, (*params, max(0, int(limit)), max(0, int(offset)))
        ).fetchall()
        return [
            AuditEvent(
                event=row[1],
                time=_dt(row[0]),
                actor=row[3],
                ip=row[4],
                user_agent=row[5],
                request_id=row[6],
                outcome=row[2],
                details=json.loads(row[7] or "{}"),
            )
            for row in rows
        ]

    def count(
        self,
        *,
        event: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> int:
        where, params = self._where(event, since, until)
        sql = _AUDIT_COUNT + where
        row = self._db.execute_sql(sql, params).fetchone()
        return int(row[0])

    def event_names(self) -> list[str]:
        rows = self._db.execute_sql(
            "SELECT DISTINCT event FROM audit_events ORDER BY event"
        ).fetchall()
        return [row[0] for row in rows]

    def prune_before(self, cutoff: dt.datetime) -> int:
        cursor = self._db.execute_sql("DELETE FROM audit_events WHERE time < ?", (_ts(cutoff),))
        return int(cursor.rowcount)


class SqliteSettingsStore:
    def __init__(self, store: SqliteStorage) -> None:
        self._store = store

    @property
    def _db(self) -> SoulspotSqliteDatabase:
        return self._store.database

    def get(self, key: str, default: Any = None) -> Any:
        row = self._db.execute_sql("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set(self, key: str, value: Any) -> None:
        encoded = json.dumps(value)  # not JSON-able: TypeError before anything is written
        self._db.execute_sql(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            (key, encoded, time.time()),
        )

    def delete(self, key: str) -> bool:
        cursor = self._db.execute_sql("DELETE FROM settings WHERE key = ?", (key,))
        return bool(cursor.rowcount)


class SqliteCache:
    """TTL cache: values are JSON. An expired entry counts as ``expired`` (and is removed),
    a missing one as ``miss``."""

    def __init__(self, store: SqliteStorage) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._hits = self._misses = self._expired = 0

    @property
    def _db(self) -> SoulspotSqliteDatabase:
        return self._store.database

    def _count(self, result: str) -> None:
        with self._lock:
            if result == "hit":
                self._hits += 1
            elif result == "miss":
                self._misses += 1
            else:
                self._expired += 1
        self._store.metrics.cache_requests.labels(result=result).inc()

    def get(self, key: str) -> Any | None:
        row = self._db.execute_sql(
            "SELECT value, expires_at FROM cache_entries WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            self._count("miss")
            return None
        if row[1] <= time.time():
            self._count("expired")
            self._db.execute_sql(
                "DELETE FROM cache_entries WHERE key = ? AND expires_at <= ?", (key, time.time())
            )
            return None
        self._count("hit")
        return json.loads(row[0])

    def set(self, key: str, value: Any, ttl_seconds: float) -> None:
        encoded = json.dumps(value)
        self._db.execute_sql(
            "INSERT INTO cache_entries (key, value, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "expires_at = excluded.expires_at",
            (key, encoded, time.time() + float(ttl_seconds)),
        )

    def delete(self, key: str) -> bool:
        cursor = self._db.execute_sql("DELETE FROM cache_entries WHERE key = ?", (key,))
        return bool(cursor.rowcount)

    def purge_expired(self) -> int:
        cursor = self._db.execute_sql(
            "DELETE FROM cache_entries WHERE expires_at <= ?", (time.time(),)
        )
        return int(cursor.rowcount)

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(hits=self._hits, misses=self._misses, expired=self._expired)


class SqliteStorage:
    """The store of one app: ``<data_dir>/soulspot.db`` behind a connection pool."""

    def __init__(
        self,
        data_dir: Path,
        config: SqliteConfig,
        migrations: dict[str, list[Migration]],
        metrics: StoreMetrics,
        *,
        checkpoints_elsewhere: bool = False,
    ) -> None:
        self.config = config
        self._path = Path(data_dir) / DB_FILENAME
        #: a replicator (Litestream) checkpoints the WAL; SQLite's auto-checkpoint is off
        self.checkpoints_elsewhere = checkpoints_elsewhere
        self.metrics = metrics
        self.database = SoulspotSqliteDatabase(
            self._path,
            synchronous=config.synchronous,
            busy_timeout_ms=config.busy_timeout_ms,
            retry_seconds=config.lock_retry_seconds,
            max_connections=config.max_connections,
            wal_autocheckpoint=0 if checkpoints_elsewhere else 1000,
        )
        self.observer = QueryObserver(metrics, config.slow_query_ms)
        self.database.observer = self.observer
        self.migrator = Migrator(self.database, migrations, self.write_transaction, self._path)
        self.session_store = SqliteSessionStore(self, config.session_cache_seconds)
        self.sessions: SessionStore = self.session_store
        self.audit: AuditStore = SqliteAuditStore(self)
        self.settings: SettingsStore = SqliteSettingsStore(self)
        self.ttl_cache = SqliteCache(self)
        self.cache: Cache = self.ttl_cache
        self.bind()

    @property
    def path(self) -> Path | None:
        return self._path

    def add_statement_listener(self, listener: StatementListener) -> None:
        self.observer.listeners = (*self.observer.listeners, listener)

    def bind(self) -> None:
        """Point the kernel's model proxy (:data:`soulspot.db.database`) at this database."""
        if model_proxy.obj is not self.database:
            model_proxy.initialize(self.database)

    # -- connections and transactions ---------------------------------------------------

    @contextmanager
    def connection(self) -> Iterator[None]:
        """This thread's connection for the duration of the block (reused when one is
        already open, given back to the pool afterwards)."""
        self.bind()
        opened = self.database.connect(reuse_if_open=True)
        try:
            yield
        finally:
            if opened:
                self.database.release_thread_connection()

    @contextmanager
    def write_transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` (savepoint when nested): the write lock is taken up front, so
        a read-then-write never fails half-way on a lock; a locked BEGIN is retried."""
        with self.database.atomic("IMMEDIATE"):
            yield

    # -- schema -------------------------------------------------------------------------

    def schema_versions(self) -> dict[str, int]:
        with self.connection():
            return self.migrator.applied()

    def head_versions(self) -> dict[str, int]:
        return self.migrator.heads()

    def upgrade(self) -> list[str]:
        try:
            with self.connection():
                return [str(step) for step in self.migrator.upgrade(on_step=audit_step)]
        finally:
            self.session_store.forget()

    def downgrade(self, plugin: str, version: int) -> list[str]:
        try:
            with self.connection():
                steps = self.migrator.downgrade(plugin, version, on_step=audit_step)
                return [str(step) for step in steps]
        finally:
            self.session_store.forget()

    def pending(self) -> list[Migration]:
        with self.connection():
            return self.migrator.pending()

    def close(self) -> None:
        """Close every pooled connection (shutdown, restore): the file may be replaced."""
        self.database.close_all()
        self.session_store.forget()


def audit_step(step: Step) -> None:
    """Record one migration step in the audit trail (``db.migrated``)."""
    from flask import has_app_context

    if not has_app_context():
        return
    from soulspot.api import audit

    audit(
        "db.migrated",
        plugin=step.plugin,
        version=step.version,
        direction=step.direction,
        migration=step.name,
    )
