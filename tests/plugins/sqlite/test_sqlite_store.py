"""The kernel stores on a real SQLite file: sessions, audit, settings, cache, transactions."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time

import peewee
import pytest

from soulspot import api
from soulspot.db import BaseModel
from soulspot.db import database as model_proxy
from soulspot.stores import (
    AuditStore,
    Cache,
    CacheStats,
    SessionRecord,
    SessionStore,
    SettingsStore,
    Storage,
)
from soulspot.types import AuditEvent

UTC = dt.UTC


def _now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def test_store_satisfies_the_kernel_contract(make_app):
    app = make_app()
    store = app.extensions["soulspot"].storage
    assert isinstance(store, Storage)
    assert isinstance(store.sessions, SessionStore)
    assert isinstance(store.audit, AuditStore)
    assert isinstance(store.settings, SettingsStore)
    assert isinstance(store.cache, Cache)
    assert store.path.name == "soulspot.db"
    assert store.path.parent == app.extensions["soulspot"].data_dir
    assert store.schema_versions() == store.head_versions()
    assert store.head_versions()["sqlite"] >= 1
    assert model_proxy.obj is store.database


def test_pragmas_wal_busy_timeout_foreign_keys_synchronous(make_app):
    app = make_app({"plugins": {"sqlite": {"synchronous": "FULL", "busy_timeout_ms": 1234}}})
    store = app.extensions["soulspot"].storage
    with store.connection():
        db = store.database
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 1234
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    default = make_app().extensions["soulspot"].storage
    with default.connection():
        assert default.database.execute_sql("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_bad_config_is_refused(make_app):
    from soulspot.exceptions import ConfigError

    with pytest.raises(ConfigError, match="synchronous"):
        make_app({"plugins": {"sqlite": {"synchronous": "SOMETIMES"}}})
    with pytest.raises(ConfigError, match="nonsense"):
        make_app({"plugins": {"sqlite": {"nonsense": 1}}})


def test_sessions(make_app):
    store = make_app().extensions["soulspot"].storage
    now = _now()
    with store.connection():
        live = SessionRecord(
            "hash-a", "u1", now, now, now + dt.timedelta(hours=1), "127.0.0.1", "ua", {"n": 1}
        )
        store.sessions.create(live)
        store.sessions.create(SessionRecord("hash-b", "u1", now, now, now + dt.timedelta(hours=1)))
        store.sessions.create(
            SessionRecord("hash-old", "u2", now, now, now - dt.timedelta(seconds=1))
        )
        assert store.sessions.get("hash-a") == live
        assert store.sessions.get("nope") is None
        later = now + dt.timedelta(minutes=5)
        store.sessions.touch("hash-a", later)
        store.sessions.update_data("hash-a", {"n": 2})
        got = store.sessions.get("hash-a")
        assert got.last_seen == later and got.data == {"n": 2}
        assert store.sessions.count_active(now) == 2
        assert {s.id for s in store.sessions.list_active(now)} == {"hash-a", "hash-b"}
        # purge: expired ones, and ones idle since before the cutoff
        assert store.sessions.purge_expired(now, idle_cutoff=now + dt.timedelta(minutes=1)) == 2
        assert store.sessions.get("hash-a") is not None
        store.sessions.create(SessionRecord("hash-c", "u1", now, later, later))
        assert store.sessions.delete_for_user("u1") == 2
        assert store.sessions.delete("hash-a") is False


def test_naive_datetimes_are_utc(make_app):
    store = make_app().extensions["soulspot"].storage
    naive = dt.datetime(2030, 1, 1, 12, 0, 0)
    with store.connection():
        store.sessions.create(SessionRecord("n", "u", naive, naive, naive))
        assert store.sessions.get("n").created_at == naive.replace(tzinfo=UTC)


def test_audit_is_append_only_and_queryable(make_app):
    app = make_app()
    store = app.extensions["soulspot"].storage
    base = dt.datetime(2026, 1, 1, tzinfo=UTC)
    with app.app_context():
        for i in range(5):
            store.audit.append(
                AuditEvent("auth.sign_in", base + dt.timedelta(days=i), outcome="ok", actor="me")
            )
        store.audit.append(AuditEvent("backup.created", base + dt.timedelta(days=10)))
        api.audit("auth.sign_out", outcome="ok", actor="me", reason="button", token="x")
        events = store.audit.query(event="auth.sign_in", limit=2)
        assert [e.time for e in events] == [
            base + dt.timedelta(days=4),
            base + dt.timedelta(days=3),
        ]
        assert store.audit.count(event="auth.sign_in") == 5
        assert (
            store.audit.count(since=base + dt.timedelta(days=2), until=base + dt.timedelta(days=4))
            == 2
        )
        old = store.audit.query(until=base + dt.timedelta(days=30), offset=1, limit=1)
        assert [(e.event, e.time) for e in old] == [("auth.sign_in", base + dt.timedelta(days=4))]
        names = store.audit.event_names()
        assert {"auth.sign_in", "backup.created", "auth.sign_out", "db.migrated"} <= set(names)
        stored = store.audit.query(event="auth.sign_out")[0]
        assert stored.details == {"reason": "button"}  # the kernel dropped the secret
        assert stored.request_id
        # no code path changes an event, and the database refuses it too
        assert not hasattr(store.audit, "update") and not hasattr(store.audit, "delete")
        with pytest.raises(peewee.IntegrityError, match="append-only"):
            store.database.execute_sql("UPDATE audit_events SET outcome = 'failed'")
        assert store.audit.prune_before(base + dt.timedelta(days=2)) == 2
        assert store.audit.count(event="auth.sign_in") == 3


def test_settings_json_values(make_app):
    store = make_app().extensions["soulspot"].storage
    with store.connection():
        assert store.settings.get("missing", "dflt") == "dflt"
        store.settings.set("theme", {"dark": True, "n": [1, 2]})
        assert store.settings.get("theme") == {"dark": True, "n": [1, 2]}
        store.settings.set("theme", "light")
        assert store.settings.get("theme") == "light"
        with pytest.raises(TypeError):
            store.settings.set("bad", object())
        assert store.settings.delete("theme") is True
        assert store.settings.delete("theme") is False
        assert store.settings.get("theme") is None


def test_cache_ttl_and_counters(make_app):
    app = make_app()
    store = app.extensions["soulspot"].storage
    with store.connection():
        assert store.cache.get("k") is None  # miss
        store.cache.set("k", {"v": 1}, ttl_seconds=60)
        assert store.cache.get("k") == {"v": 1}  # hit
        store.cache.set("gone", 1, ttl_seconds=-1)
        assert store.cache.get("gone") is None  # expired, and removed
        assert store.cache.get("gone") is None  # now a miss
        assert store.cache.stats() == CacheStats(hits=1, misses=2, expired=1)
        assert store.cache.delete("k") is True
    counter = next(
        c
        for group in app.extensions["soulspot"].hook.metrics(app=app)
        for c in group
        if getattr(c, "_name", "") == "soulspot_cache_requests"
    )
    values = {
        s.labels["result"]: s.value
        for m in counter.collect()
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert values == {"hit": 1.0, "miss": 2.0, "expired": 1.0}


def test_write_transaction_is_immediate_and_rolls_back(make_app):
    store = make_app().extensions["soulspot"].storage
    with store.connection():
        with pytest.raises(RuntimeError), store.write_transaction():
            store.settings.set("a", 1)
            # the write lock is held from BEGIN: another connection cannot write now
            other = sqlite3.connect(str(store.path), timeout=0)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
            raise RuntimeError("boom")
        assert store.settings.get("a") is None
        with store.write_transaction():
            store.settings.set("a", 1)
            with store.write_transaction():  # nested: a savepoint
                store.settings.set("b", 2)
        assert (store.settings.get("a"), store.settings.get("b")) == (1, 2)


def test_write_waits_out_a_lock_held_longer_than_busy_timeout(make_app):
    """A lock held past busy_timeout is retried with back-off: the caller never sees it."""
    store = (
        make_app({"plugins": {"sqlite": {"busy_timeout_ms": 50}}}).extensions["soulspot"].storage
    )
    holder = sqlite3.connect(str(store.path), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release_later() -> None:
        released.wait(5)
        holder.execute("COMMIT")
        holder.close()

    thread = threading.Thread(target=release_later)
    thread.start()
    with store.connection():
        timer = threading.Timer(0.4, released.set)
        timer.start()
        store.settings.set("after-lock", True)  # autocommit write
        with store.write_transaction():  # BEGIN IMMEDIATE
            store.settings.set("in-tx", True)
    thread.join(5)
    assert released.is_set()
    assert store.database.lock_retries >= 1
    with store.connection():
        assert store.settings.get("after-lock") is True and store.settings.get("in-tx") is True


def test_plugin_models_on_the_kernel_proxy(make_app):
    class Note(BaseModel):
        text = peewee.TextField()

    from soulspot import hookimpl
    from soulspot.types import Migration, PluginManifest

    class NotesPlugin:
        @hookimpl
        def manifest(self):
            return PluginManifest(requires=("storage",))

        @hookimpl
        def migrations(self):
            return [
                Migration(
                    "notes",
                    1,
                    "notes table",
                    lambda db, m: db.create_tables([Note]),
                    lambda db, m: db.drop_tables([Note]),
                )
            ]

    app = make_app(plugins=[("notes", NotesPlugin())])
    store = app.extensions["soulspot"].storage
    assert store.schema_versions()["notes"] == 1
    client = app.test_client()

    @app.get("/_note")
    @api.public
    def _note():  # pragma: no cover - exercised through the client
        Note.create(text="hi")
        return {"n": Note.select().count(), "open": not store.database.is_closed()}

    assert client.get("/_note").get_json() == {"n": 1, "open": True}
    # the request's connection went back to the pool at teardown
    assert store.database.is_closed()


def test_plain_atomic_of_any_plugin_is_immediate_too(make_app):
    """``database.atomic()`` (what plugins' peewee code uses) takes the write lock up front,
    so a read-then-write in it cannot fail with a snapshot conflict."""
    store = make_app().extensions["soulspot"].storage
    with store.connection(), model_proxy.atomic():
        store.settings.get("x")
        other = sqlite3.connect(str(store.path), timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()


def test_threads_that_use_connection_give_their_connection_back(make_app):
    """Helper threads (a health check run in its own thread, say) query inside
    ``Storage.connection()``: the connection goes back to the pool when they finish, so a
    small pool serves any number of them."""
    store = make_app({"plugins": {"sqlite": {"max_connections": 3}}}).extensions["soulspot"].storage

    def work(n: int) -> None:
        with store.connection():
            store.settings.set(f"k{n}", n)

    for n in range(8):
        thread = threading.Thread(target=work, args=(n,))
        thread.start()
        thread.join(10)
    with store.connection():
        assert [store.settings.get(f"k{n}") for n in range(8)] == list(range(8))


def test_audit_event_survives_the_rollback_of_its_transaction(make_app):
    app = make_app()
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection():
        with pytest.raises(RuntimeError), store.write_transaction():
            store.settings.set("half-done", 1)
            api.audit("auth.sign_in", outcome="failed", reason="bad state")
            raise RuntimeError("sign-in failed")
        assert store.settings.get("half-done") is None
        assert store.audit.count(event="auth.sign_in") == 1
        with store.write_transaction():
            api.audit("auth.sign_out")
            assert store.audit.count(event="auth.sign_out") == 0  # written after COMMIT
        assert store.audit.count(event="auth.sign_out") == 1


def test_database_files_are_private_and_shutdown_closes_the_pool(make_app):
    app = make_app()
    store = app.extensions["soulspot"].storage
    for suffix in ("", "-wal", "-shm"):
        path = store.path.with_name(store.path.name + suffix)
        assert path.stat().st_mode & 0o777 == 0o600, path
    with store.connection():
        store.settings.set("x", 1)
        pooled = store.database.connection()  # peewee's documented accessor
    pooled.execute("SELECT 1")  # given back to the pool, still open
    api.hook(app).shutdown(app=app)
    with pytest.raises(sqlite3.ProgrammingError):
        pooled.execute("SELECT 1")  # the pool closed its idle connections


def test_writer_queue_is_first_come_first_served():
    from soulspot_sqlite.database import FairLock

    lock = FairLock()
    assert lock.acquire(timeout=1)
    order: list[int] = []

    def wait_turn(i: int) -> None:
        assert lock.acquire(timeout=10)
        order.append(i)
        lock.release()

    threads = []
    for i in range(4):
        thread = threading.Thread(target=wait_turn, args=(i,))
        thread.start()
        threads.append(thread)
        give_up = time.monotonic() + 5
        while len(lock._waiters) < i + 1 and time.monotonic() < give_up:
            time.sleep(0.001)  # polling a condition with a deadline: queued in this order
    assert not lock.acquire(timeout=0.01)  # a late comer times out, and leaves the queue
    assert len(lock._waiters) == 4
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3]
    assert not lock.locked()
