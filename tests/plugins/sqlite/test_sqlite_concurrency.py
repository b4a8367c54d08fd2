"""Acceptance: many threads without "database is locked", and a SIGKILLed writer loses no
acknowledged write."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlite_support import NotesPlugin, raw

THREADS = 8
#: The issue asks for 10 s of load; the whole test must stay within ~10 s, so the load phase
#: takes 9 s and start-up/verification the rest.
LOAD_SECONDS = float(os.environ.get("SOULSPOT_STRESS_SECONDS", "9"))


@pytest.mark.slow
def test_eight_threads_mixed_reads_and_writes_no_errors_no_lost_writes(make_app):
    app = make_app(plugins=[("notes", NotesPlugin())])
    store = app.extensions["soulspot"].storage
    with store.connection():
        store.settings.set("counter", 0)
    errors: list[BaseException] = []
    acked_notes: list[list[str]] = [[] for _ in range(THREADS)]
    acked_settings: list[list[str]] = [[] for _ in range(THREADS)]
    increments = [0] * THREADS
    reads = [0] * THREADS
    start = threading.Barrier(THREADS)
    deadline = time.monotonic() + LOAD_SECONDS + 1

    def worker(tid: int) -> None:
        rng = random.Random(tid)
        seq = 0
        start.wait()
        stop_at = time.monotonic() + LOAD_SECONDS
        try:
            while time.monotonic() < stop_at:
                seq += 1
                # half the operations take a connection per operation (like a request),
                # the others reuse the thread's open one (like a job)
                with store.connection():
                    roll = rng.random()
                    if roll < 0.35:  # read-then-write, the case BEGIN IMMEDIATE is for
                        key = f"t{tid}-{seq}"
                        with store.write_transaction():
                            value = store.settings.get("counter")
                            store.settings.set("counter", value + 1)
                            store.database.execute_sql(
                                "INSERT INTO notes (text, tag) VALUES (?, ?)", (key, "stress")
                            )
                        increments[tid] += 1
                        acked_notes[tid].append(key)
                    elif roll < 0.55:  # single autocommit writes
                        key = f"s{tid}-{seq}"
                        store.settings.set(key, seq)
                        store.cache.set(key, {"seq": seq}, ttl_seconds=60)
                        acked_settings[tid].append(key)
                    else:  # reads
                        store.settings.get(f"s{rng.randrange(THREADS)}-{rng.randrange(seq)}")
                        store.cache.get(f"s{tid}-{seq - 1}")
                        store.database.execute_sql(
                            "SELECT count(*) FROM notes WHERE tag = ?", ("stress",)
                        ).fetchone()
                        store.audit.count()
                        reads[tid] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic() + 5))
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert all(increments) and all(reads) and all(acked_settings)
    print(
        f"{THREADS} threads, {LOAD_SECONDS} s: {sum(increments)} read-then-write transactions, "
        f"{sum(map(len, acked_settings))} autocommit write pairs, {sum(reads)} read rounds, "
        f"{store.database.lock_retries} lock retries"
    )

    with store.connection():
        db = store.database
        notes = {r[0] for r in db.execute_sql("SELECT text FROM notes WHERE tag = 'stress'")}
        assert notes == {key for keys in acked_notes for key in keys}
        assert store.settings.get("counter") == sum(increments)  # no lost update
        stored = {r[0] for r in db.execute_sql("SELECT key FROM settings WHERE key LIKE 's%'")}
        assert {key for keys in acked_settings for key in keys} <= stored
        assert db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"


WRITER = """
import sys
from pathlib import Path

from soulspot.testing import build_app

app = build_app(Path(sys.argv[1]))
store = app.extensions["soulspot"].storage
with app.app_context(), store.connection():
    print("ready", flush=True)
    i = 0
    while True:
        with store.write_transaction():
            store.settings.set(f"ack{i:07d}", i)
            store.audit.count()
        # acknowledged only once COMMIT has returned
        print(i, flush=True)
        i += 1
"""


def _start_writer(tmp_path, data):
    """The WRITER script in its own process, on ``data``, without our SOULSPOT_* env."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    return subprocess.Popen(
        [sys.executable, str(script), str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )


@pytest.mark.slow
def test_sigkilled_writer_loses_no_acknowledged_write(make_app, tmp_path):
    data = tmp_path / "data"
    proc = _start_writer(tmp_path, data)
    acked: list[int] = []
    try:
        assert proc.stdout is not None
        give_up = time.monotonic() + 60
        for line in proc.stdout:
            line = line.strip()
            if line.isdigit():
                acked.append(int(line))
            if len(acked) >= 400 or time.monotonic() > give_up:
                break
        os.kill(proc.pid, signal.SIGKILL)  # mid-load: it is writing right now
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    acked += [int(x) for x in rest.split() if x.isdigit()]
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 400, err

    db_path = Path(data) / "soulspot.db"
    conn = raw(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()

    store = make_app(data_dir=data).extensions["soulspot"].storage
    with store.connection():
        present = {
            int(row[0])
            for row in store.database.execute_sql(
                "SELECT value FROM settings WHERE key LIKE 'ack%'"
            )
        }
        assert set(acked) <= present
        assert store.database.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.slow
def test_two_processes_writing_at_once_see_no_lock_errors(make_app, tmp_path):
    """The server and a CLI command (another process) write the same file: SQLite's
    busy_timeout and the plugin's retry keep both going."""
    data = tmp_path / "data"
    store = make_app(data_dir=data).extensions["soulspot"].storage
    proc = _start_writer(tmp_path, data)
    mine: list[int] = []
    theirs: list[int] = []
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        stop_at = time.monotonic() + 2.5
        with store.connection():
            i = 0
            while time.monotonic() < stop_at:
                with store.write_transaction():
                    store.settings.set(f"mine{i:07d}", i)
                mine.append(i)
                i += 1
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    theirs = [int(x) for x in out.split() if x.isdigit()]
    assert "locked" not in err, err
    assert proc.returncode == -signal.SIGTERM, err
    assert len(mine) > 50 and len(theirs) > 50
    with store.connection():
        rows = store.database.execute_sql(
            "SELECT key FROM settings WHERE key LIKE 'mine%' OR key LIKE 'ack%'"
        ).fetchall()
    keys = {r[0] for r in rows}
    assert {f"mine{i:07d}" for i in mine} <= keys
    assert {f"ack{i:07d}" for i in theirs} <= keys
