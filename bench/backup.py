"""Backup throughput and writer latency, side by side with baselines, in one run.

    .venv/bin/python bench/backup.py [--mb 500] [--seconds 5] [--json]

Builds a SoulSpot app on a fresh data dir with a database of about ``--mb`` megabytes, then
measures on the same file, in the same run:

* ``cp``: plain file copy (no fsync), the upper bound of copying;
* ``sqlite3 .backup``: the sqlite3 shell's online backup, synced to disk (skipped when
  sqlite3 is missing);
* ``soulspot snapshot``: the store's online snapshot (SQLite's backup API in one step): the
  copy that reads the live database while writers keep going. Issue 7's target, >= 250
  MB/s, is for this snapshot method;
* ``soulspot snapshot+archive``: the snapshot, its ``PRAGMA integrity_check`` (while the
  same bytes are copied into the tar archive, hashed and paced to disk), fsynced and
  renamed: a durable, checked backup.
  Bound by how fast the disk takes the data, like ``sqlite3 .backup``;
* ``soulspot with verify``: the whole ``soulspot backup create``: the same plus reading
  the archive back from disk against its checksums.

and the p99/max latency of 4 writer threads (one short ``BEGIN IMMEDIATE`` insert each) without
a backup and while one runs. Targets (issue 7): snapshot >= 250 MB/s, writer p99 <= 5 ms.
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
        app = build_app(
            work / "data",
            plugins=[("bench", BenchPlugin())],
            disable=["spotify", "library", "collection"],
        )
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

        def backup(label: str) -> tuple[Any, float, float]:
            """One SoulSpot backup, timed phase by phase."""
            steps: list[tuple[float, str]] = []
            started = time.perf_counter()
            with app.app_context():
                info = svc.create(
                    "manual", progress=lambda m: steps.append((time.perf_counter(), m))
                )
            ended = time.perf_counter()

            def at(prefix: str, default: float) -> float:
                return next((t for t, m in steps if m.startswith(prefix)), default)

            t_checked = at("verifying the snapshots", started)
            t_archive = at("writing the archive", t_checked)
            t_verify = at("verifying 2", ended)
            phases = {
                "snapshot (backup API, one step)": t_checked - started,
                "integrity_check || sha256": t_archive - t_checked,
                "archive (copy || integrity_check, fsync)": t_verify - t_archive,
                "verify archive (read back, sha256)": ended - t_verify,
            }
            snapshot = phases["snapshot (backup API, one step)"]
            write = t_verify - started
            results[label] = {
                "snapshot": {"seconds": round(snapshot, 3), "mb_per_s": round(mb / snapshot, 1)},
                "snapshot+archive": {"seconds": round(write, 3), "mb_per_s": round(mb / write, 1)},
                "with verify": {
                    "seconds": round(ended - started, 3),
                    "mb_per_s": round(mb / (ended - started), 1),
                },
                "phases": {
                    k: {"seconds": round(v, 3), "mb_per_s": round(mb / v, 1) if v else None}
                    for k, v in phases.items()
                },
            }
            r = results[label]
            print(
                f"{label + ' snapshot':<28} {snapshot:7.2f} s  {mb / snapshot:8.1f} MB/s",
                file=sys.stderr,
            )
            print(
                f"{label + ' snapshot+archive':<28} {write:7.2f} s  {mb / write:8.1f} MB/s",
                file=sys.stderr,
            )
            print(
                f"{label + ' with verify':<28} {ended - started:7.2f} s  "
                f"{r['with verify']['mb_per_s']:8.1f} MB/s",
                file=sys.stderr,
            )
            for name, seconds in phases.items():
                print(f"    {name:<34} {seconds:6.2f} s", file=sys.stderr)
            return info, started, ended

        info, _, _ = backup("soulspot")  # alone, like cp and .backup above

        writers = Writers(app)
        writers.start()
        time.sleep(0.5)  # warm up
        writers.recording.set()
        idle_start = time.perf_counter()
        time.sleep(args.seconds)
        info, started, ended = backup("soulspot, 4 writers")
        time.sleep(0.1)
        writers.recording.clear()
        writers.close()
        idle = writers.window(idle_start, started)
        during_backup = writers.window(started, ended)
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
        ours = results["soulspot"]["snapshot"]["mb_per_s"]
        ratios = {"soulspot snapshot / cp": ours / results["cp"]["mb_per_s"]}
        shell = results.get("sqlite3 .backup")
        if shell:
            durable = results["soulspot"]["snapshot+archive"]["mb_per_s"]
            ratios["soulspot snapshot / sqlite3 .backup"] = ours / shell["mb_per_s"]
            ratios["soulspot snapshot+archive / sqlite3 .backup"] = durable / shell["mb_per_s"]
        results["ratios"] = {k: round(v, 2) for k, v in ratios.items()}
        for key, value in ratios.items():
            print(f"{key}: {value:.2f}x", file=sys.stderr)
        results["targets"] = {
            "snapshot_mb_per_s>=250": ours >= 250,
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
