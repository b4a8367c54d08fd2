"""Sessions read recently are served from memory; every write forgets them, sessions another
process ended through its store are forgotten at once, any other change behind the store's
back is read again after ``session_cache_seconds``."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from typing import Any

from flask import Flask

from soulspot.stores import SessionRecord

UTC = dt.UTC


def _record(sid: str, user: str = "alice") -> SessionRecord:
    now = dt.datetime.now(UTC).replace(microsecond=0)
    return SessionRecord(
        id=sid,
        user_id=user,
        created_at=now,
        last_seen=now,
        expires_at=now + dt.timedelta(hours=1),
        ip="127.0.0.1",
        user_agent="test",
        data={"display_name": user},
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _selects(store: Any) -> list[str]:
    """Every ``SELECT ... FROM sessions`` the store runs from now on."""
    seen: list[str] = []
    previous = store.database.observer

    def observer(sql: str, params: Any, seconds: float, error: BaseException | None) -> None:
        if sql.startswith("SELECT") and "FROM sessions" in sql:
            seen.append(sql)
        if previous is not None:
            previous(sql, params, seconds, error)

    store.database.observer = observer
    return seen


def _store(make_app: Callable[..., Flask], seconds: float = 2.0) -> tuple[Any, Clock]:
    app = make_app({"plugins": {"sqlite": {"session_cache_seconds": seconds}}})
    store = app.extensions["soulspot"].storage
    clock = Clock()
    store.session_store.clock = clock
    return store, clock


def test_a_session_is_read_from_the_database_once_per_cache_period(make_app):
    store, clock = _store(make_app)
    with store.connection():
        store.sessions.create(_record("s1"))
        seen = _selects(store)
        assert store.sessions.get("s1").user_id == "alice"
        assert store.sessions.get("s1").user_id == "alice"
        assert len(seen) == 1
        clock.now += 2.5
        assert store.sessions.get("s1") is not None
        assert len(seen) == 2


def test_writes_in_this_process_take_effect_at_once(make_app):
    store, _clock = _store(make_app)
    with store.connection():
        for sid in ("s1", "s2", "s3"):
            store.sessions.create(_record(sid, user="bob" if sid == "s3" else "alice"))
            assert store.sessions.get(sid) is not None  # now cached
        later = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(minutes=5)
        store.sessions.touch("s1", later)
        assert store.sessions.get("s1").last_seen == later
        store.sessions.update_data("s1", {"display_name": "Alice"})
        assert store.sessions.get("s1").data == {"display_name": "Alice"}
        assert store.sessions.delete("s1") is True
        assert store.sessions.get("s1") is None
        assert store.sessions.delete_for_user("bob") == 1
        assert store.sessions.get("s3") is None
        future = dt.datetime.now(UTC) + dt.timedelta(days=1)
        assert store.sessions.purge_expired(future, future) == 1
        assert store.sessions.get("s2") is None


def test_sessions_another_process_ends_stop_at_once(make_app, tmp_path):
    """Issue 15: `soulspot sessions revoke` next to a running server (each its own store on
    the shared file, as two processes have)."""
    config = {"plugins": {"sqlite": {"session_cache_seconds": 60}}}
    server = make_app(config, data_dir=tmp_path / "shared").extensions["soulspot"].storage
    cli = make_app(config, data_dir=tmp_path / "shared").extensions["soulspot"].storage
    with server.connection():
        for sid, user in (("s1", "alice"), ("s2", "alice"), ("s3", "bob"), ("s4", "carol")):
            server.sessions.create(_record(sid, user))
        assert all(server.sessions.get(s) is not None for s in ("s1", "s2", "s3", "s4"))
    later = dt.datetime.now(UTC) + dt.timedelta(hours=2)  # every session has expired by then
    ends = [
        (lambda: cli.sessions.delete("s1"), {"s1"}),
        (lambda: cli.sessions.delete_for_user("alice"), {"s2"}),
        (lambda: cli.sessions.purge_expired(later, later - dt.timedelta(days=1)), {"s3", "s4"}),
    ]
    for end, gone in ends:
        with cli.connection(), cli.write_transaction():
            end()
        with server.connection():
            assert {s for s in ("s1", "s2", "s3", "s4") if server.sessions.get(s) is None} >= gone


def test_a_change_behind_the_stores_back_applies_after_the_cache_period(make_app):
    store, clock = _store(make_app)
    with store.connection():
        store.sessions.create(_record("s1"))
        assert store.sessions.get("s1") is not None
    other = sqlite3.connect(store.path)  # raw SQL, not through a store: nothing announced
    with other:
        other.execute("DELETE FROM sessions WHERE id = 's1'")
    other.close()
    with store.connection():
        clock.now += 1.9
        assert store.sessions.get("s1") is not None  # still within 2 s
        clock.now += 0.2
        assert store.sessions.get("s1") is None


def test_a_read_that_raced_a_write_is_not_kept(make_app):
    store, _clock = _store(make_app)
    with store.connection():
        store.sessions.create(_record("s1"))
        seen = _selects(store)
        observer = store.database.observer

        def write_lands_after_the_select(sql: str, *args: Any) -> None:
            observer(sql, *args)
            store.session_store.forget("s1")  # what a concurrent write does

        store.database.observer = write_lands_after_the_select
        assert store.sessions.get("s1") is not None
        store.database.observer = observer
        assert store.sessions.get("s1") is not None
        assert len(seen) == 2  # the first read was not cached


def test_nothing_is_cached_inside_a_transaction_and_a_rolled_back_write_forgets(make_app):
    store, _clock = _store(make_app)
    with store.connection():
        store.sessions.create(_record("s1"))
        seen = _selects(store)
        with store.write_transaction():
            assert store.sessions.get("s1") is not None
        assert store.sessions.get("s1") is not None
        assert len(seen) == 2  # the read inside the transaction was not kept
        try:
            with store.write_transaction():
                store.sessions.delete("s1")
                raise RuntimeError("abort")
        except RuntimeError:
            pass
        assert store.sessions.get("s1") is not None  # rolled back: still there, re-read
        assert len(seen) == 3


def test_zero_seconds_reads_every_time_and_restore_forgets(make_app):
    store, _clock = _store(make_app, seconds=0)
    with store.connection():
        store.sessions.create(_record("s1"))
        seen = _selects(store)
        store.sessions.get("s1")
        store.sessions.get("s1")
        assert len(seen) == 2
    cached, _clock = _store(make_app)
    with cached.connection():
        cached.sessions.create(_record("s1"))
        assert cached.sessions.get("s1") is not None
    cached.close()  # what a restore does before it swaps the file
    other = sqlite3.connect(cached.path)  # the restored file no longer has the session
    with other:
        other.execute("DELETE FROM sessions WHERE id = 's1'")
    other.close()
    with cached.connection():
        assert cached.sessions.get("s1") is None  # read again at once, not served from memory
