"""Point-in-time replication (the `replication` plugin's Litestream), measured in one run.

    .venv/bin/python bench/replication.py [--quick] [--trials 20] [--seconds 5]
        [--restore-mb 1024] [--sync-interval 1s] [--monitor-interval 100ms] [--json]

* **RPO**: 4 writer threads commit rows stamped with their commit time while the plugin's
  supervisor runs Litestream with the plugin's defaults (sync 1 s, monitor 100 ms;
  ``--sync-interval`` and ``--monitor-interval`` set others). At a
  random moment the writer process *and* Litestream get SIGKILL at once and the data dir is
  deleted (the machine is gone); the database is restored from the replica. Lost = the last
  acknowledged commit time minus the newest commit time in the restored copy. p50/p99/max
  over ``--trials`` (goal: p99 <= 1 s).
* **Writers, replication on against off**: the same 4 writers for ``--seconds`` each way:
  commits per second and p99 commit latency (goal: on >= 0.9x of off).
* **Restore of a ``--restore-mb`` database** from the replica (``litestream restore``)
  against ``cp`` of the same file (the floor).

``--quick``: 5 trials, 2 s runs, a 64 MB database (for a loaded machine). Figures go to
docs/performance.md with the load average this prints.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from soulspot_replication.config import ReplicationConfig
from soulspot_replication.litestream import Litestream, write_config

WRITERS = 4
#: ``--sync-interval`` and ``--monitor-interval`` of this run (the plugin's defaults unless
#: given), for the writer processes.
INTERVALS = {
    "sync": str(ReplicationConfig.model_fields["sync_interval"].default),
    "monitor": str(ReplicationConfig.model_fields["monitor_interval"].default),
}


def _connect(db: Path, replicated: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(db, timeout=10, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute(f"PRAGMA wal_autocheckpoint = {0 if replicated else 1000}")
    return conn


def child(args: argparse.Namespace) -> None:
    """The writer process: 4 threads commit (one row each, ``BEGIN IMMEDIATE``), printing
    every acknowledged commit time; with ``--replicate`` the plugin's supervisor runs
    Litestream. Runs until killed, or ``--seconds`` then prints a latency summary."""
    db = Path(args.db)
    replicated = args.replicate
    setup = _connect(db, replicated)
    setup.execute("CREATE TABLE IF NOT EXISTS marks (writer INTEGER, t REAL, pad TEXT)")
    setup.close()
    supervisor = None
    if replicated:
        from soulspot_replication.supervisor import Supervisor

        cfg = ReplicationConfig(
            replica_url=f"file://{args.replica}",
            sync_interval=args.sync_interval,
            monitor_interval=args.monitor_interval,
        )
        supervisor = Supervisor(cfg, write_config(db.parent / "replication", db, cfg))
        supervisor.start()
        while supervisor.pid is None or not supervisor.running:
            time.sleep(0.01)
        print(f"litestream {supervisor.pid}", flush=True)
    stop = time.monotonic() + args.seconds if args.seconds else None
    lock = threading.Lock()
    latencies: list[float] = []
    out_lock = threading.Lock()
    lock_writes = threading.Lock()  # like the store's in-process writer lock

    def writer(n: int) -> None:
        conn = _connect(db, replicated)
        mine: list[float] = []
        while stop is None or time.monotonic() < stop:
            began = time.perf_counter()
            with lock_writes:
                conn.execute("BEGIN IMMEDIATE")
                now = time.time()
                conn.execute("INSERT INTO marks VALUES (?, ?, ?)", (n, now, "x" * 200))
                conn.execute("COMMIT")
            mine.append(time.perf_counter() - began)
            if stop is None:
                with out_lock:
                    sys.stdout.write(f"ack {now!r}\n")
                    sys.stdout.flush()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if supervisor is not None:
        supervisor.stop()
    latencies.sort()
    print(
        json.dumps(
            {
                "commits": len(latencies),
                "per_second": len(latencies) / args.seconds,
                "p50_ms": 1000 * latencies[len(latencies) // 2],
                "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
            }
        ),
        flush=True,
    )


def _spawn(db: Path, replica: Path, replicate: bool, seconds: float) -> subprocess.Popen[str]:
    cmd = [sys.executable, __file__, "--child", "--db", str(db), "--replica", str(replica)]
    cmd += ["--seconds", str(seconds), "--sync-interval", INTERVALS["sync"]]
    cmd += ["--monitor-interval", INTERVALS["monitor"]]
    cmd += ["--replicate"] if replicate else []
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def _restore_latest(replica: Path, out: Path) -> None:
    cfg = ReplicationConfig(replica_url=f"file://{replica}")
    fake_db = out.parent / "gone" / "soulspot.db"
    config = write_config(out.parent / "restore-config", fake_db, cfg)
    Litestream(cfg, config, fake_db).restore(out, None)


def rpo_trial(root: Path, run_seconds: tuple[float, float]) -> float:
    data, replica = root / "data", root / "replica"
    data.mkdir()
    proc = _spawn(data / "soulspot.db", replica, True, 0)
    assert proc.stdout is not None
    first = proc.stdout.readline().split()
    litestream = int(first[1])
    acks: list[float] = []
    stdout = proc.stdout

    def read_acks() -> None:
        for line in stdout:
            if line.startswith("ack "):
                acks.append(float(line[4:]))

    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    # steady state: the replica holds its first snapshot before the clock starts
    started = time.monotonic()
    while not any(replica.rglob("*.ltx")) and time.monotonic() - started < 120:
        time.sleep(0.05)
    time.sleep(random.uniform(*run_seconds))  # the random moment the machine is lost
    os.kill(proc.pid, signal.SIGKILL)  # writers and Litestream at once
    os.kill(litestream, signal.SIGKILL)
    proc.wait()
    reader.join(10)
    last_ack = max(acks, default=0.0)
    shutil.rmtree(data)
    restored = root / "restored.db"
    _restore_latest(replica, restored)
    conn = sqlite3.connect(restored)
    newest = conn.execute("SELECT max(t) FROM marks").fetchone()[0] or 0.0
    conn.close()
    return max(0.0, last_ack - float(newest))


def writers(root: Path, replicate: bool, seconds: float) -> dict[str, Any]:
    data = root / ("on" if replicate else "off")
    data.mkdir()
    proc = _spawn(data / "soulspot.db", root / "replica-writers", replicate, seconds)
    out, _ = proc.communicate(timeout=seconds + 120)
    return dict(json.loads(out.strip().splitlines()[-1]))


def restore_vs_cp(root: Path, mb: int) -> dict[str, float]:
    db = root / "big" / "soulspot.db"
    db.parent.mkdir()
    conn = _connect(db, True)
    conn.execute("CREATE TABLE blobs (b BLOB)")
    chunk = os.urandom(1 << 20)  # incompressible: the replica holds every byte
    for _ in range(mb):
        conn.execute("INSERT INTO blobs VALUES (?)", (chunk,))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    cfg = ReplicationConfig(replica_url=f"file://{root / 'replica-big'}")
    config = write_config(db.parent / "replication", db, cfg)
    litestream = Litestream(cfg, config, db)
    subprocess.run(
        [_binary(cfg), "replicate", "-once", "-config", str(config)],
        check=True,
        capture_output=True,
        timeout=3600,
    )
    size = db.stat().st_size
    began = time.perf_counter()
    shutil.copyfile(db, root / "copy.db")
    cp = time.perf_counter() - began
    began = time.perf_counter()
    litestream.restore(root / "restored-big.db", None)
    restore = time.perf_counter() - began
    return {"mb": size / 1e6, "cp_s": cp, "restore_s": restore, "ratio": restore / cp}


def _binary(cfg: ReplicationConfig) -> str:
    from soulspot_replication.litestream import binary

    return binary(cfg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--restore-mb", type=int, default=1024)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--sync-interval",
        default=INTERVALS["sync"],
        help="[plugins.replication] sync_interval for the run (default: the plugin's)",
    )
    parser.add_argument(
        "--monitor-interval",
        default=INTERVALS["monitor"],
        help="[plugins.replication] monitor_interval for the run (default: the plugin's)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--replicate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--replica", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.quick:
        args.trials, args.seconds, args.restore_mb = 5, 2.0, 64
    INTERVALS.update(sync=args.sync_interval, monitor=args.monitor_interval)
    results: dict[str, Any] = {
        "load_before": os.getloadavg()[0],
        "sync_interval": args.sync_interval,
        "monitor_interval": args.monitor_interval,
    }
    with tempfile.TemporaryDirectory(prefix="soulspot-bench-replication-") as tmp:
        root = Path(tmp)
        losses = []
        for n in range(args.trials):
            trial = root / f"trial{n}"
            trial.mkdir()
            losses.append(rpo_trial(trial, (1.5, 1.5 + args.seconds)))
            shutil.rmtree(trial)
            print(f"trial {n + 1}/{args.trials}: lost {losses[-1]:.3f} s", file=sys.stderr)
        losses.sort()
        results["rpo"] = {
            "trials": len(losses),
            "p50_s": statistics.median(losses),
            "p99_s": losses[min(len(losses) - 1, int(len(losses) * 0.99))],
            "max_s": losses[-1],
        }
        off = writers(root, False, args.seconds)
        on = writers(root, True, args.seconds)
        results["writers"] = {
            "off": off,
            "on": on,
            "throughput_ratio": on["per_second"] / off["per_second"],
            "p99_ratio": on["p99_ms"] / off["p99_ms"],
        }
        results["restore"] = restore_vs_cp(root, args.restore_mb)
    results["load_after"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    rpo, w, r = results["rpo"], results["writers"], results["restore"]
    print(f"load average: {results['load_before']:.1f} before, {results['load_after']:.1f} after")
    print(
        f"RPO over {rpo['trials']} trials (sync_interval {results['sync_interval']}, "
        f"monitor_interval {results['monitor_interval']}): p50 {rpo['p50_s']:.2f} s, "
        f"p99 {rpo['p99_s']:.2f} s, max {rpo['max_s']:.2f} s (goal p99 <= 1 s)"
    )
    print(
        f"writers off: {w['off']['per_second']:.0f}/s p99 {w['off']['p99_ms']:.2f} ms; "
        f"on: {w['on']['per_second']:.0f}/s p99 {w['on']['p99_ms']:.2f} ms; "
        f"throughput {w['throughput_ratio']:.2f}x (goal >= 0.9x), p99 {w['p99_ratio']:.2f}x"
    )
    print(
        f"restore of {r['mb']:.0f} MB: litestream {r['restore_s']:.2f} s, cp {r['cp_s']:.2f} s "
        f"({r['ratio']:.1f}x cp)"
    )


if __name__ == "__main__":
    main()
