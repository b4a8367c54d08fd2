"""``soulspot serve`` with replication on, as a subprocess (Litestream is its child), and
the polling helpers the replication tests share."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

BIN = Path(sys.executable).parent
SOULSPOT = str(BIN / "soulspot")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(what: str, check: Callable[[], T | None], deadline: float = 20.0) -> T:
    """``check()``'s first true answer, asked every 50 ms until ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline} s waiting for {what}")
        time.sleep(0.05)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]
    data_dir: Path

    def replication(self) -> dict[str, Any]:
        """The replication health check's details (``/health`` is public; the API is not
        when an auth plugin is enabled)."""
        health = get_json(f"{self.url}/health")
        (check,) = [c for c in health["checks"] if c["name"] == "replication"]
        return dict(check["details"])

    def litestream_pid(self) -> int:
        return int(self.replication()["pid"])

    def replica_rows(self, prefix: str, env: Mapping[str, str] | None = None) -> list[str]:
        """The settings ``<prefix> <n>`` the replica holds now (a real restore of its latest
        moment into a temporary file, with the real Litestream)."""
        out = self.data_dir.parent / f"probe-{time.monotonic_ns()}.db"
        config = self.data_dir / "replication" / "litestream.json"
        done = subprocess.run(
            [
                *(str(BIN / "litestream"), "restore", "-config", str(config)),
                *("-o", str(out), str(self.data_dir / "soulspot.db")),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=environment(env or {}),
        )
        try:
            return read_rows(out, prefix) if done.returncode == 0 else []
        finally:
            for path in (out, Path(f"{out}-wal"), Path(f"{out}-shm")):
                path.unlink(missing_ok=True)


def environment(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    env.pop("PYTHONPATH", None)
    # Litestream 0.5.17's S3 client refuses to start with a custom CA bundle set ("unable
    # to add custom RootCAs HTTPClient"); the local S3 server is plain http anyway
    env.pop("AWS_CA_BUNDLE", None)
    env.update(extra)
    return env


@contextmanager
def serving(config: Path, data_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[Server]:
    port = free_port()
    extra = {"SOULSPOT_CONFIG": str(config), "SOULSPOT__KERNEL__DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(
        [SOULSPOT, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environment({**extra, **(env or {})}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Server(f"http://127.0.0.1:{port}", proc, data_dir)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            return bool(server.replication().get("running"))
        except OSError:
            return False

    try:
        poll("serve and its Litestream", up, deadline=90.0)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def write_rows(db: Path, prefix: str, values: list[str]) -> float:
    """Commit each value as its own setting ``<prefix> <n>`` (a table SoulSpot's schema has,
    so a restore's schema check accepts the copy), one transaction each, with no
    auto-checkpoint (Litestream owns checkpoints); returns the time after the last commit."""
    conn = sqlite3.connect(db, timeout=10, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        start = int(
            conn.execute(
                "SELECT count(*) FROM settings WHERE key LIKE ?", (f"{prefix} %",)
            ).fetchone()[0]
        )
        for n, value in enumerate(values, start):
            conn.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, 0)",
                (f"{prefix} {n:05d}", json.dumps(value)),
            )
    finally:
        conn.close()
    return time.time()


def read_rows(db: Path, prefix: str) -> list[str]:
    """The values of the settings ``<prefix> <n>``, in order."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT value FROM settings WHERE key LIKE ? ORDER BY key", (f"{prefix} %",)
        )
        return [json.loads(r[0]) for r in rows]
    finally:
        conn.close()


def count_rows(db: Path, table: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
    finally:
        conn.close()
