"""The database as a backup source: online snapshot under writes, verify, atomic restore."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlite_support import raw

from soulspot.types import BackupSource


def _source(app) -> BackupSource:
    hook = app.extensions["soulspot"].hook
    sources = [s for group in hook.backup_sources(app=app) for s in group]
    return next(s for s in sources if s.name == "database")


def _count(store, key_prefix="w") -> int:
    with store.connection():
        return store.database.execute_sql(
            "SELECT count(*) FROM settings WHERE key LIKE ?", (f"{key_prefix}%",)
        ).fetchone()[0]


def test_source_contract(make_app):
    app = make_app()
    source = _source(app)
    assert isinstance(source, BackupSource)
    assert source.sensitive is False
    assert source.schema_versions() == app.extensions["soulspot"].storage.schema_versions()


def test_snapshot_is_consistent_while_writers_keep_writing(make_app, tmp_path):
    app = make_app()
    store = app.extensions["soulspot"].storage
    source = _source(app)
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        i = 0
        try:
            with store.connection():
                while not stop.is_set():
                    with store.write_transaction():
                        store.settings.set(f"w{i:06d}", i)
                        store.settings.set("last", i)  # invariant: last == count - 1
                    written.append(i)
                    i += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        give_up = time.monotonic() + 20
        while len(written) < 50 and time.monotonic() < give_up and not errors:
            stop.wait(0.01)
        snapshots = []
        for n in range(3):
            dest = tmp_path / f"snap{n}"
            dest.mkdir()
            source.snapshot(dest)
            snapshots.append(dest)
        during = len(written)
    finally:
        stop.set()
        thread.join(10)
    assert not errors
    assert during >= 50
    assert len(written) > 50  # the writer was never blocked for long
    for dest in snapshots:
        assert sorted(p.name for p in dest.iterdir()) == ["soulspot.db"]  # no temp leftovers
        assert source.verify(dest) == []
        conn = raw(dest / "soulspot.db")
        count = conn.execute("SELECT count(*) FROM settings WHERE key LIKE 'w%'").fetchone()[0]
        last = conn.execute("SELECT value FROM settings WHERE key = 'last'").fetchone()
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        conn.close()
        assert count >= 1 and int(last[0]) == count - 1  # a transaction-consistent copy
        assert mode == "delete"  # one self-contained file


def test_verify_reports_damage(make_app, tmp_path):
    app = make_app()
    source = _source(app)
    assert source.verify(tmp_path) == ["soulspot.db is missing from " + str(tmp_path)]
    dest = tmp_path / "snap"
    dest.mkdir()
    with app.extensions["soulspot"].storage.connection():
        store = app.extensions["soulspot"].storage
        for i in range(300):
            store.settings.set(f"w{i}", "x" * 200)
    source.snapshot(dest)
    db = dest / "soulspot.db"
    data = bytearray(db.read_bytes())
    page = 4096
    for offset in range(page * 2, min(len(data), page * 6)):
        data[offset] = 0xA5
    db.write_bytes(bytes(data))
    problems = source.verify(dest)
    assert problems and all("soulspot.db" in p for p in problems)
    (dest / "soulspot.db").write_bytes(b"not a database at all" * 50)
    assert source.verify(dest)


def test_restore_swaps_the_file_and_drops_the_old_wal(make_app, tmp_path):
    app = make_app()
    store = app.extensions["soulspot"].storage
    source = _source(app)
    with store.connection():
        store.settings.set("before", 1)
    dest = tmp_path / "snap"
    dest.mkdir()
    source.snapshot(dest)
    with store.connection():
        store.settings.set("after", 2)  # lives in the WAL of the current file
        store.settings.set("before", "changed")
    assert Path(f"{store.path}-wal").exists()

    source.restore(dest)

    with store.connection():
        assert store.settings.get("before") == 1
        assert store.settings.get("after") is None
        assert store.database.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.settings.set("usable", True)
    assert not list(store.path.parent.glob(".soulspot.db.*"))
    # the app keeps serving from the restored file
    assert app.extensions["soulspot"].storage.schema_versions() == store.head_versions()


def test_restore_refuses_damaged_or_newer_copies_and_changes_nothing(make_app, tmp_path):
    app = make_app()
    store = app.extensions["soulspot"].storage
    source = _source(app)
    with store.connection():
        store.settings.set("keep", "me")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "soulspot.db").write_bytes(b"garbage" * 1000)
    with pytest.raises(RuntimeError, match="damaged"):
        source.restore(damaged)

    newer = tmp_path / "newer"
    newer.mkdir()
    source.snapshot(newer)
    conn = raw(newer / "soulspot.db")
    conn.execute("UPDATE schema_versions SET version = version + 5 WHERE plugin = 'sqlite'")
    conn.close()
    with pytest.raises(RuntimeError, match="newer code"):
        source.restore(newer)
    with store.connection():
        assert store.settings.get("keep") == "me"


def test_restore_of_an_older_schema_then_upgrade(make_app, tmp_path):
    from sqlite_support import NotesPlugin

    old_data = tmp_path / "old"
    old_app = make_app(plugins=[("notes", NotesPlugin(head=1))], data_dir=old_data)
    snap = tmp_path / "snap"
    snap.mkdir()
    _source(old_app).snapshot(snap)

    app = make_app(plugins=[("notes", NotesPlugin(head=3))])
    store = app.extensions["soulspot"].storage
    _source(app).restore(snap)
    assert store.schema_versions()["notes"] == 1
    assert [s.split(":")[0] for s in store.upgrade()] == ["notes -> 2", "notes -> 3"]
