"""Soak test (`make soak`): 60 s of mixed load at 16 concurrent signed-in clients against a
real `soulspot serve` on 127.0.0.1, while backups (`soulspot backup create`, another
process) and the session purge job (with expired sessions to delete) run next to it.

Each client loops: sign in through the local OAuth provider, a random mix of pages, API
calls, health probes and metric scrapes, sign out. Passes when there is **no 5xx** and **no
lost write**: every sign-in and sign-out a client saw acknowledged is in the audit log, no
session is left behind, every backup verified. Memory (RSS of the server) is sampled and its
growth reported. Loopback only; the loop stops by itself.

Run: ``.venv/bin/python bench/soak.py [--seconds 60] [--clients 16] [--json]``; exit 1 on
failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from _live import BIN, live_soulspot, machine, sign_in, sign_out

MIX = [
    ("/", 3),
    ("/api/plugins", 3),
    ("/api/auth/status", 2),
    ("/api/audit", 1),
    ("/api/backups", 1),
    ("/auth/sessions", 1),
    ("/audit", 1),
    ("/backups", 1),
    ("/health/live", 2),
    ("/health/ready", 2),
    ("/health", 1),
    ("/metrics", 1),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests-per-session", type=int, default=25)
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    paths = [p for p, w in MIX for _ in range(w)]

    with (
        tempfile.TemporaryDirectory(prefix="soulspot-soak-") as tmp,
        live_soulspot(Path(tmp)) as live,
    ):
        from soulspot import api
        from soulspot.stores import SessionRecord
        from soulspot.testing import build_app, run_jobs

        side_env = {k: v for k, v in live.env.items() if k.startswith("SOULSPOT")}
        side = build_app(live.data_dir, env=side_env, disable=["observability"])
        started = dt.datetime.now(dt.UTC)

        lock = threading.Lock()
        statuses: Counter[int] = Counter()
        failures: list[str] = []
        acked = Counter[str]()
        stop_at = time.monotonic() + args.seconds

        def client(seed: int) -> None:
            rnd = random.Random(seed)
            while time.monotonic() < stop_at:
                try:
                    session = sign_in(live.url)
                    with lock:
                        acked["sign_in"] += 1
                        statuses[200] += 1
                    for _ in range(args.requests_per_session):
                        resp = session.get(live.url + rnd.choice(paths), timeout=60)
                        with lock:
                            statuses[resp.status_code] += 1
                            if resp.status_code >= 500:
                                failures.append(f"{resp.status_code} {resp.url}")
                    status = sign_out(session, live.url)
                    with lock:
                        statuses[status] += 1
                        if status in (200, 302, 303):
                            acked["sign_out"] += 1
                        else:
                            failures.append(f"sign-out answered {status}")
                except (requests.RequestException, RuntimeError) as exc:
                    with lock:
                        failures.append(f"client error: {exc}")

        backups: list[str] = []
        purged: list[int] = []

        def side_work() -> None:
            """Backups in another process at 25 % and 60 % of the run; the purge job every 5 s
            with 50 expired sessions to delete each time."""
            marks = [args.seconds * 0.25, args.seconds * 0.6]
            begin = time.monotonic()
            next_purge = begin + 5
            round_ = 0
            while time.monotonic() < stop_at:
                now = time.monotonic()
                if marks and now - begin >= marks[0]:
                    marks.pop(0)
                    result = subprocess.run(
                        [str(BIN / "soulspot"), "backup", "create"],
                        env=live.env,
                        capture_output=True,
                        text=True,
                        timeout=300,
                    )
                    if result.returncode != 0:
                        failures.append(f"backup failed: {result.stderr[-300:]}")
                    else:
                        backups.append(result.stdout.strip().splitlines()[-1])
                if now >= next_purge:
                    next_purge = now + 5
                    round_ += 1
                    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
                    with side.app_context():
                        store = api.storage()
                        with store.connection(), store.write_transaction():
                            for i in range(50):
                                key = f"expired-{round_}-{i}".encode()
                                store.sessions.create(
                                    SessionRecord(
                                        id=hashlib.sha256(key).hexdigest(),
                                        user_id="alice",
                                        created_at=old,
                                        last_seen=old,
                                        expires_at=old + dt.timedelta(days=1),
                                    )
                                )
                        try:
                            run_jobs(side, "spotify.purge_sessions")
                        except Exception as exc:
                            failures.append(f"purge job failed: {exc!r}")
                        with store.connection():
                            left = store.sessions.list_active(old - dt.timedelta(days=1))
                        purged.append(sum(1 for s in left if s.id.startswith("expired")))
                time.sleep(0.2)

        rss: list[tuple[float, int]] = [(0.0, live.rss())]
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        helper = threading.Thread(target=side_work)
        t0 = time.monotonic()
        for t in [*threads, helper]:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            rss.append((time.monotonic() - t0, live.rss()))
        helper.join()
        elapsed = time.monotonic() - t0
        time.sleep(1)
        rss.append((time.monotonic() - t0, live.rss()))

        # Lost writes: every acknowledged sign-in/out is in the audit log; no session left.
        with side.app_context():
            store = api.storage()
            run_jobs(side, "spotify.purge_sessions")
            with store.connection():
                stored_in = store.audit.count(event="auth.sign_in", since=started)
                stored_out = store.audit.count(event="auth.sign_out", since=started)
                left = store.sessions.count_active(dt.datetime.now(dt.UTC))
        verify = subprocess.run(
            [str(BIN / "soulspot"), "backup", "list", "--json"],
            env=live.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        listed = {b["id"]: b for b in json.loads(verify.stdout or "[]")} if verify.stdout else {}

    lost = []
    if stored_in != acked["sign_in"]:
        lost.append(f"sign-ins: {acked['sign_in']} acknowledged, {stored_in} in the audit log")
    if stored_out != acked["sign_out"]:
        lost.append(f"sign-outs: {acked['sign_out']} acknowledged, {stored_out} in the audit log")
    if left != 0:
        lost.append(f"{left} session(s) left after every client signed out")
    for backup_id in backups:
        if not listed.get(backup_id, {}).get("verified"):
            lost.append(f"backup {backup_id} not verified: {listed.get(backup_id)}")
    if any(purged):
        lost.append(f"expired sessions survived a purge: {purged}")
    total = sum(statuses.values())
    server_errors = sum(n for code, n in statuses.items() if code >= 500)
    growth = rss[-1][1] - rss[1][1] if len(rss) > 1 else 0
    report: dict[str, Any] = {
        "machine": machine(),
        "seconds": round(elapsed, 1),
        "clients": args.clients,
        "requests": total,
        "requests_per_second": round(total / elapsed, 1),
        "statuses": dict(sorted(statuses.items())),
        "server_errors": server_errors,
        "sign_ins": acked["sign_in"],
        "sign_outs": acked["sign_out"],
        "backups": backups,
        "purge_runs": len(purged),
        "lost_writes": lost,
        "failures": failures[:20],
        "rss_mib": {
            "start": round(rss[0][1] / 2**20, 1),
            "after_warmup": round(rss[1][1] / 2**20, 1) if len(rss) > 1 else None,
            "peak": round(max(r for _, r in rss) / 2**20, 1),
            "end": round(rss[-1][1] / 2**20, 1),
            "growth_after_warmup": round(growth / 2**20, 1),
        },
    }
    ok = server_errors == 0 and not lost and not failures
    report["result"] = "PASS" if ok else "FAIL"
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        m = report["machine"]
        print(f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, load {m['load']}")
        print(
            f"{report['requests']} requests in {report['seconds']} s by {args.clients} clients "
            f"({report['requests_per_second']} req/s); statuses {report['statuses']}"
        )
        print(
            f"sign-ins {report['sign_ins']}, sign-outs {report['sign_outs']}, backups "
            f"{len(backups)} (verified), session purges {len(purged)}"
        )
        r = report["rss_mib"]
        print(
            f"RSS MiB: start {r['start']}, after 1 s {r['after_warmup']}, peak {r['peak']}, "
            f"end {r['end']} (growth {r['growth_after_warmup']})"
        )
        for line in lost + failures[:20]:
            print(f"  ! {line}")
        print(f"soak: {report['result']} ({server_errors} 5xx, {len(lost)} lost-write problems)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
