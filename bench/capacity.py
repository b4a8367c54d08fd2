"""Capacity figures for docs/operations/capacity.md, measured on this machine:

- database and backup size per 10k audit events and per 10k sessions (real rows through the
  storage API, the database checkpointed, a real verified backup archive before and after);
- log volume per 1k requests (the JSON lines `soulspot serve` writes on stdout for a mix of
  pages and API calls by a signed-in client);
- memory (RSS of the `soulspot serve` process) at idle, under load (16 concurrent signed-in
  clients on loopback) and idle again after the load.

Run: ``.venv/bin/python bench/capacity.py [--events 10000] [--sessions 10000]
[--requests 1000] [--seconds 15] [--clients 16] [--json]``. ``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from _live import live_soulspot, machine, sign_in

UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)
#: What a signed-in person's browser and scripts ask for (path, weight).
MIX = [
    ("/api/plugins", 4),
    ("/", 2),
    ("/health/ready", 2),
    ("/api/auth/status", 1),
    ("/auth/sessions", 1),
]


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def kib(n: float) -> str:
    return f"{n / 1024:.0f} KiB"


def _db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def storage_sizes(work: Path, events: int, sessions: int) -> dict[str, Any]:
    """Rows through the storage API; database checkpointed; a verified backup each time."""
    from soulspot import api
    from soulspot.stores import SessionRecord
    from soulspot.testing import build_app
    from soulspot.types import AuditEvent

    app = build_app(work / "data", disable=["observability"])  # keep this output readable
    out: dict[str, Any] = {}
    with app.app_context():
        store = api.storage()

        def measure() -> tuple[int, int]:
            with store.connection():
                store.database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            db = _db_bytes(Path(store.path))
            backup_id = api.take_backup("manual")
            assert backup_id, "no backup plugin"
            backups = sorted(api.data_dir().glob(f"backups/*{backup_id}*"))
            return db, backups[-1].stat().st_size

        with store.connection():
            pass
        db0, bk0 = measure()
        now = dt.datetime.now(dt.UTC)
        batch = 500
        with store.connection():
            for start in range(0, events, batch):
                with store.write_transaction():
                    for i in range(start, min(start + batch, events)):
                        store.audit.append(
                            AuditEvent(
                                event=random.choice(
                                    ["auth.sign_in", "backup.created", "auth.sign_out"]
                                ),
                                time=now - dt.timedelta(seconds=events - i),
                                actor="owner-spotify-id",
                                ip="192.0.2.10",
                                user_agent=UA,
                                request_id=uuid.uuid4().hex,
                                outcome="ok",
                                details={"owner_claimed": False, "trigger": "manual"},
                            )
                        )
        db1, bk1 = measure()
        with store.connection():
            for start in range(0, sessions, batch):
                with store.write_transaction():
                    for i in range(start, min(start + batch, sessions)):
                        store.sessions.create(
                            SessionRecord(
                                id=hashlib.sha256(f"session-{i}".encode()).hexdigest(),
                                user_id="owner-spotify-id",
                                created_at=now,
                                last_seen=now,
                                expires_at=now + dt.timedelta(days=30),
                                ip="192.0.2.10",
                                user_agent=UA,
                            )
                        )
        db2, bk2 = measure()
    scale_e, scale_s = 10_000 / events, 10_000 / sessions
    out["empty"] = {"db_bytes": db0, "backup_bytes": bk0}
    out["per_10k_audit_events"] = {
        "db_bytes": round((db1 - db0) * scale_e),
        "backup_bytes": round((bk1 - bk0) * scale_e),
    }
    out["per_10k_sessions"] = {
        "db_bytes": round((db2 - db1) * scale_s),
        "backup_bytes": round((bk2 - bk1) * scale_s),
    }
    return out


def live_figures(work: Path, requests_n: int, seconds: float, clients: int) -> dict[str, Any]:
    paths = [p for p, w in MIX for _ in range(w)]
    out: dict[str, Any] = {}
    with live_soulspot(work) as live:
        time.sleep(3)  # settle: start-up backup, first jobs
        out["rss_idle_bytes"] = live.rss()

        client = sign_in(live.url)
        before = live.log_counter()
        for i in range(requests_n):
            resp = client.get(live.url + paths[i % len(paths)], timeout=30)
            resp.raise_for_status()
        time.sleep(0.5)  # let the reader catch the last lines
        after = live.log_counter()
        scale = 1000 / requests_n
        out["log_per_1k_requests"] = {
            "bytes": round((after[0] - before[0]) * scale),
            "lines": round((after[1] - before[1]) * scale),
        }

        sessions = [sign_in(live.url) for _ in range(clients)]
        stop = time.monotonic() + seconds
        done = [0]
        errors = [0]
        lock = threading.Lock()

        def worker(session: Any, seed: int) -> None:
            rnd = random.Random(seed)
            while time.monotonic() < stop:
                resp = session.get(live.url + rnd.choice(paths), timeout=30)
                with lock:
                    done[0] += 1
                    errors[0] += resp.status_code >= 500

        threads = [threading.Thread(target=worker, args=(s, i)) for i, s in enumerate(sessions)]
        peak = 0
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, live.rss())
            time.sleep(0.25)
        out["load"] = {
            "clients": clients,
            "seconds": seconds,
            "requests": done[0],
            "requests_per_second": round(done[0] / seconds, 1),
            "server_errors": errors[0],
            "rss_peak_bytes": peak,
        }
        time.sleep(3)
        out["rss_idle_after_load_bytes"] = live.rss()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soulspot-capacity-") as tmp:
        work = Path(tmp)
        (work / "a").mkdir()
        (work / "b").mkdir()
        figures: dict[str, Any] = {"machine": machine()}
        figures["storage"] = storage_sizes(work / "a", args.events, args.sessions)
        figures["process"] = live_figures(work / "b", args.requests, args.seconds, args.clients)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    m, s, p = figures["machine"], figures["storage"], figures["process"]
    print(
        f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, SQLite {m['sqlite']}, "
        f"load average {m['load']}"
    )
    print(f"{'':32} {'database':>12} {'backup archive':>16}")
    print(
        f"{'empty (schema only)':32} {kib(s['empty']['db_bytes']):>12} "
        f"{kib(s['empty']['backup_bytes']):>16}"
    )
    for key, label in (
        ("per_10k_audit_events", "per 10k audit events"),
        ("per_10k_sessions", "per 10k sessions"),
    ):
        print(f"{label:32} {mib(s[key]['db_bytes']):>12} {mib(s[key]['backup_bytes']):>16}")
    log = p["log_per_1k_requests"]
    print(f"log volume per 1k requests: {kib(log['bytes'])} ({log['lines']} lines)")
    load = p["load"]
    print(f"RSS idle: {mib(p['rss_idle_bytes'])}")
    print(
        f"RSS under load ({load['clients']} clients, {load['seconds']:.0f} s, "
        f"{load['requests_per_second']} req/s, {load['server_errors']} 5xx): "
        f"peak {mib(load['rss_peak_bytes'])}"
    )
    print(f"RSS idle after load: {mib(p['rss_idle_after_load_bytes'])}")


if __name__ == "__main__":
    main()
