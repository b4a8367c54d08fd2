"""Backup throughput and writer latency, side by side with baselines, in one run.

    .venv/bin/python bench/backup.py [--mb 500] [--seconds 5] [--json]

Builds a SoulSpot app on a fresh data dir with a database of about ``--mb`` megabytes, then
measures on the same file, in the same run:

* ``cp``: plain file copy (no fsync), the upper bound;
* ``sqlite3 .backup``: the sqlite3 shell's online backup (skipped when sqlite3 is missing);
* ``soulspot snapshot+archive``: the backup plugin's snapshot (``VACUUM INTO``) and the tar
  archive, fsynced and renamed: the time writers see a backup running;
* ``soulspot total``: the same plus the verification that follows every backup (checksums of
  the archive and ``PRAGMA integrity_check`` of the snapshot).

and the p99/max latency of 4 writer threads (one short ``BEGIN IMMEDIATE`` insert each) without
a backup and while one runs. Targets (issue 7): backup >= 250 MB/s, writer p99 <= 5 ms.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from soulspot import hookimpl
from soulspot.testing import build_app
from soulspot.types import Migration, PluginManifest


class BenchPlugin:
    """A table to fill and write to."""

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="bench table")

    @hookimpl
    def migrations(self) -> Iterable[Migration]:
        def up(db: Any, _m: Any) -> None:
            db.execute_sql(
                "CREATE TABLE bench_items (id INTEGER PRIMARY KEY, body BLOB, n INTEGER)"
            )

        def down(db: Any, _m: Any) -> None:
            db.execute_sql("DROP TABLE bench_items")

        return [Migration("bench", 1, "bench table", up, down)]


def fill(app: Any, megabytes: int) -> None:
    store = app.extensions["soulspot"].storage
    rows = megabytes * 1000  # ~1 KB per row
    batch = 50_000
    with app.app_context(), store.connection():
        for start in range(0, rows, batch):
            with store.write_transaction():
                store.database.execute_sql(
                    "WITH RECURSIVE s(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM s WHERE i < ?)"
                    " INSERT INTO bench_items (id, body, n) SELECT i, randomblob(1000), i FROM s",
                    (start + 1, min(start + batch, rows)),
                )
        store.database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


class Writers:
    """4 threads inserting one row per short write transaction, timing each."""

    def __init__(self, app: Any, threads: int = 4) -> None:
        self.app = app
        self.store = app.extensions["soulspot"].storage
        self.threads = threads
        self.stop = threading.Event()
        self.recording = threading.Event()
        self.samples: list[tuple[float, float]] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.workers = [threading.Thread(target=self._run, args=(n,)) for n in range(threads)]

    def _run(self, n: int) -> None:
        next_id = 10_000_000_000 + n * 1_000_000_000
        local: list[tuple[float, float]] = []
        try:
            with self.app.app_context(), self.store.connection():
                while not self.stop.is_set():
                    started = time.perf_counter()
                    with self.store.write_transaction():
                        self.store.database.execute_sql(
                            "INSERT INTO bench_items (id, body, n) VALUES (?, randomblob(100), ?)",
                            (next_id, n),
                        )
                    ended = time.perf_counter()
                    next_id += 1
                    if self.recording.is_set():
                        local.append((ended, ended - started))
                    if len(local) >= 256:
                        with self.lock:
                            self.samples.extend(local)
                        local.clear()
                    time.sleep(0.002)  # a busy app, not a write storm
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        with self.lock:
            self.samples.extend(local)

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def window(self, start: float, end: float) -> list[float]:
        """Latencies of the writes that finished between ``start`` and ``end``."""
        with self.lock:
            return [took for at, took in self.samples if start <= at <= end]

    def close(self) -> None:
        self.stop.set()
        for worker in self.workers:
            worker.join(timeout=30)


def pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500, help="database size in MB (500)")
    parser.add_argument("--seconds", type=float, default=5.0, help="baseline writer window (5)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--dir", help="work directory (default: a temp dir, removed after)")
    args = parser.parse_args()

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="soulspot-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"mb_requested": args.mb}
    try:
        app = build_app(work / "data", plugins=[("bench", BenchPlugin())], disable=["spotify"])
        from soulspot_backup.service import service

        svc = service(app)
        print(f"filling a ~{args.mb} MB database ...", file=sys.stderr)
        fill(app, args.mb)
        db = Path(app.extensions["soulspot"].storage.path)
        size = db.stat().st_size
        results["db_bytes"] = size
        mb = size / 1e6

        def timed(label: str, func: Any) -> None:
            started = time.perf_counter()
            func()
            took = time.perf_counter() - started
            results[label] = {"seconds": round(took, 3), "mb_per_s": round(mb / took, 1)}
            print(f"{label:<28} {took:7.2f} s  {mb / took:8.1f} MB/s", file=sys.stderr)

        timed("cp", lambda: subprocess.run(["cp", str(db), str(work / "cp.db")], check=True))
        (work / "cp.db").unlink()
        if shutil.which("sqlite3"):
            timed(
                "sqlite3 .backup",
                lambda: subprocess.run(
                    ["sqlite3", str(db), f".backup {work / 'shell.db'}"],
                    check=True,
                ),
            )
            (work / "shell.db").unlink()
        else:
            results["sqlite3 .backup"] = None

        marks: dict[str, float] = {}

        def mark(message: str) -> None:
            if message.startswith("verifying ") and "verify" not in marks:
                marks["verify"] = time.perf_counter()

        writers = Writers(app)
        writers.start()
        time.sleep(0.5)  # warm up
        writers.recording.set()
        idle_start = time.perf_counter()
        time.sleep(args.seconds)
        started = time.perf_counter()
        with app.app_context():
            info = svc.create("manual", progress=mark)
        ended = time.perf_counter()
        time.sleep(0.1)
        writers.recording.clear()
        writers.close()
        idle = writers.window(idle_start, started)
        during_backup = writers.window(started, ended)
        snap = marks.get("verify", ended) - started
        results["soulspot snapshot+archive"] = {
            "seconds": round(snap, 3),
            "mb_per_s": round(mb / snap, 1),
        }
        results["soulspot total (with verify)"] = {
            "seconds": round(ended - started, 3),
            "mb_per_s": round(mb / (ended - started), 1),
        }
        for label in ("soulspot snapshot+archive", "soulspot total (with verify)"):
            r = results[label]
            print(f"{label:<28} {r['seconds']:7.2f} s  {r['mb_per_s']:8.1f} MB/s", file=sys.stderr)
        results["archive_bytes"] = info.size
        results["writers"] = {
            "threads": 4,
            "errors": writers.errors,
            "without_backup": {
                "writes": len(idle),
                "p50_ms": round(pct(idle, 0.5), 2),
                "p99_ms": round(pct(idle, 0.99), 2),
                "max_ms": round(max(idle) * 1000, 2) if idle else None,
            },
            "during_backup": {
                "writes": len(during_backup),
                "p50_ms": round(pct(during_backup, 0.5), 2),
                "p99_ms": round(pct(during_backup, 0.99), 2),
                "max_ms": round(max(during_backup) * 1000, 2) if during_backup else None,
                "mean_ms": round(statistics.fmean(during_backup) * 1000, 2)
                if during_backup
                else None,
            },
        }
        w = results["writers"]
        print(
            f"writers p99 without backup: {w['without_backup']['p99_ms']} ms "
            f"({w['without_backup']['writes']} writes); during backup: "
            f"{w['during_backup']['p99_ms']} ms ({w['during_backup']['writes']} writes); "
            f"errors: {len(writers.errors)}",
            file=sys.stderr,
        )
        if results.get("cp"):
            ratio = results["soulspot snapshot+archive"]["mb_per_s"] / results["cp"]["mb_per_s"]
            results["soulspot_vs_cp"] = round(ratio, 2)
            print(f"soulspot snapshot+archive vs cp: {ratio:.2f}x", file=sys.stderr)
        results["targets"] = {
            "backup_mb_per_s>=250": results["soulspot snapshot+archive"]["mb_per_s"] >= 250,
            "writer_p99_ms<=5": (w["during_backup"]["p99_ms"] or 0) <= 5,
        }
        if args.json:
            print(json.dumps(results, indent=2))
        else:
            for key, ok in results["targets"].items():
                print(f"target {key}: {'met' if ok else 'NOT met'}")
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
