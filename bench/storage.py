"""Storage write throughput and p99 write latency, SoulSpot's store next to raw ``sqlite3``.

    .venv/bin/python bench/storage.py [--seconds 3] [--threads 4] [--mb 20] [--json]

One run, one machine, the same kind of file for both sides (WAL, synchronous=NORMAL,
busy_timeout 5 s, a table pre-filled with about ``--mb`` megabytes):

* ``soulspot``: ``--threads`` writers, each write one short ``Storage.write_transaction()``
  (``BEGIN IMMEDIATE``, one INSERT, COMMIT) through the sqlite plugin (pool, timing, slow-query
  log, lock retry);
* ``raw sqlite3``: the same writes on plain ``sqlite3`` connections (one per thread);

each without and with a backup running concurrently the whole time (the plugin's backup
source ``snapshot()``, i.e. SQLite's backup API in one step + rename, in a loop; raw: the
same backup API call in a loop). Ratios are soulspot / raw (throughput: higher is better;
p99: lower is better).
Also reported: the cost of a connection per request, pooled vs a fresh ``sqlite3.connect``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from soulspot import hookimpl
from soulspot.testing import build_app
from soulspot.types import Migration, PluginManifest

PAYLOAD = "x" * 200
PRAGMAS = (
    "PRAGMA journal_mode = wal",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA foreign_keys = 1",
    "PRAGMA synchronous = NORMAL",
)


def _create(db: Any, _migrator: Any) -> None:
    db.execute_sql("CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")


def _drop(db: Any, _migrator: Any) -> None:
    db.execute_sql("DROP TABLE bench_rows")


class BenchPlugin:
    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(requires=("storage",))

    @hookimpl
    def migrations(self) -> list[Migration]:
        return [Migration("bench", 1, "bench table", _create, _drop)]


def _fill(path: Path, megabytes: int) -> None:
    conn = sqlite3.connect(str(path), isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.execute("CREATE TABLE IF NOT EXISTS bench_rows (id INTEGER PRIMARY KEY, payload TEXT)")
    rows = megabytes * 1024 * 1024 // 1100
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO bench_rows (payload) VALUES (?)", (("y" * 1000,) for _ in range(rows))
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _run_writers(
    threads: int,
    seconds: float,
    make_writer: Callable[[], tuple[Callable[[], None], Callable[[], None]]],
    background: Callable[[threading.Event], int] | None = None,
) -> dict[str, Any]:
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []
    barrier = threading.Barrier(threads + (2 if background else 1))
    stop = threading.Event()
    backups = [0]

    def writer(i: int) -> None:
        write, close = make_writer()
        out = latencies[i]
        barrier.wait()
        try:
            while not stop.is_set():
                started = time.perf_counter()
                write()
                out.append(time.perf_counter() - started)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            close()

    def run_background() -> None:
        assert background is not None
        barrier.wait()
        backups[0] = background(stop)

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    if background is not None:
        workers.append(threading.Thread(target=run_background))
    for w in workers:
        w.start()
    barrier.wait()
    started = time.perf_counter()
    stop.wait(seconds)
    stop.set()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    flat = [x for per in latencies for x in per]
    return {
        "writes": len(flat),
        "writes_per_s": len(flat) / elapsed,
        "p50_ms": statistics.median(flat) * 1000 if flat else float("nan"),
        "p99_ms": _percentile(flat, 99) * 1000,
        "max_ms": max(flat) * 1000 if flat else float("nan"),
        "errors": errors,
        "backups": backups[0],
    }


def _soulspot(store: Any, source: Any, work: Path, threads: int, seconds: float) -> dict:
    def make_writer() -> tuple[Callable[[], None], Callable[[], None]]:
        ctx = store.connection()
        ctx.__enter__()

        def write() -> None:
            with store.write_transaction():
                store.database.execute_sql(
                    "INSERT INTO bench_rows (payload) VALUES (?)", (PAYLOAD,)
                )

        return write, lambda: ctx.__exit__(None, None, None)

    def backup_loop(stop: threading.Event) -> int:
        n = 0
        while not stop.is_set():
            dest = work / f"snap-soulspot-{n}"
            dest.mkdir()
            source.snapshot(dest)
            shutil.rmtree(dest)
            n += 1
        return n

    return {
        "without backup": _run_writers(threads, seconds, make_writer),
        "with backup": _run_writers(threads, seconds, make_writer, backup_loop),
    }


def _raw(path: Path, work: Path, threads: int, seconds: float) -> dict:
    def make_writer() -> tuple[Callable[[], None], Callable[[], None]]:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        for pragma in PRAGMAS:
            conn.execute(pragma)

        def write() -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO bench_rows (payload) VALUES (?)", (PAYLOAD,))
            conn.execute("COMMIT")

        return write, conn.close

    def backup_loop(stop: threading.Event) -> int:
        n = 0
        conn = sqlite3.connect(str(path), isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 5000")
        while not stop.is_set():
            target = work / f"snap-raw-{n}.db"
            copy = sqlite3.connect(str(target))
            conn.backup(copy, pages=-1)
            copy.close()
            target.unlink()
            n += 1
        conn.close()
        return n

    return {
        "without backup": _run_writers(threads, seconds, make_writer),
        "with backup": _run_writers(threads, seconds, make_writer, backup_loop),
    }


def _connection_cost(store: Any, path: Path, rounds: int = 2000) -> dict[str, float]:
    started = time.perf_counter()
    for _ in range(rounds):
        with store.connection():
            pass
    pooled = (time.perf_counter() - started) / rounds
    started = time.perf_counter()
    for _ in range(rounds):
        conn = sqlite3.connect(str(path), isolation_level=None)
        for pragma in PRAGMAS:
            conn.execute(pragma)
        conn.close()
    fresh = (time.perf_counter() - started) / rounds
    return {"pooled_us": pooled * 1e6, "fresh_sqlite3_us": fresh * 1e6}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per scenario")
    parser.add_argument("--threads", type=int, default=4, help="writer threads")
    parser.add_argument("--mb", type=int, default=20, help="database size before writing")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)

    import logging

    logging.getLogger("soulspot").setLevel(logging.ERROR)  # no slow-query lines in the table

    with tempfile.TemporaryDirectory(prefix="soulspot-bench-") as tmp:
        root = Path(tmp)
        work = root / "work"
        work.mkdir()
        data = root / "data"
        app = build_app(data, plugins=[("bench", BenchPlugin())])
        state = app.extensions["soulspot"]
        store = state.storage
        source = next(
            s for group in state.hook.backup_sources(app=app) for s in group if s.name == "database"
        )
        store.close()
        _fill(Path(store.path), args.mb)
        raw_path = root / "raw.db"
        _fill(raw_path, args.mb)

        with app.app_context():
            results = {
                "soulspot": _soulspot(store, source, work, args.threads, args.seconds),
                "raw sqlite3": _raw(raw_path, work, args.threads, args.seconds),
            }
            conn_cost = _connection_cost(store, raw_path)
        store.close()

    ratios = {
        case: {
            "throughput": results["soulspot"][case]["writes_per_s"]
            / results["raw sqlite3"][case]["writes_per_s"],
            "p99": results["soulspot"][case]["p99_ms"] / results["raw sqlite3"][case]["p99_ms"],
        }
        for case in ("without backup", "with backup")
    }
    report = {
        "threads": args.threads,
        "seconds": args.seconds,
        "db_mb": args.mb,
        "sqlite": sqlite3.sqlite_version,
        "results": results,
        "ratios": ratios,
        "connection_per_request": conn_cost,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"storage bench: {args.threads} writer threads, {args.seconds:g} s per scenario, "
            f"~{args.mb} MB database, SQLite {sqlite3.sqlite_version}"
        )
        header = f"{'':<14} {'backup':<15} {'writes/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        print(header + f"{'max ms':>8} {'backups':>8} errors")
        for side, cases in results.items():
            for case, r in cases.items():
                print(
                    f"{side:<14} {case:<15} {r['writes_per_s']:>9.0f} {r['p50_ms']:>8.3f} "
                    f"{r['p99_ms']:>8.3f} {r['max_ms']:>8.2f} {r['backups']:>8} "
                    f"{len(r['errors'])}"
                )
        for case, ratio in ratios.items():
            print(
                f"soulspot / raw, {case}: throughput x{ratio['throughput']:.2f}, "
                f"p99 x{ratio['p99']:.2f}"
            )
        print(
            f"connection per request: pooled {conn_cost['pooled_us']:.1f} us, "
            f"fresh sqlite3.connect + pragmas {conn_cost['fresh_sqlite3_us']:.1f} us"
        )
    failed = any(r["errors"] for cases in results.values() for r in cases.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
