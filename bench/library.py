"""The library plugin's sync and pages, measured against the Web API stand-in (issue 13 §7).

One run, side by side with a baseline:

- **first full sync** of 250 playlists (25,000 entries, 5 of them only followed) and 20,000
  liked songs, 300 albums, 200 artists, every Web API call taking 50 ms: requests made
  against the minimum possible (Σ ceil(n/50) over every list; target 1.00) and wall time
  against a naive exporter that re-reads everything each time (the peers' way,
  bench/_naive_exporter.py), run against the same stand-in in the same run;
- **unchanged resync**: requests (target ≤ 10) and wall time, against the naive exporter's
  second run (it keeps no state, so it reads everything again);
- **pages** with a 100,000-item vault (the library grown, then synced again with no
  latency): p95 of ``/library/liked`` and of a page of a 10,000-item playlist, against the
  p95 of the signed-in home page ``/`` of the same server;
- **database bytes per 10,000 items** (used pages of ``soulspot.db`` before and after the first
  sync), against the naive exporter's JSON snapshot of the same library.

SoulSpot runs as a real ``soulspot serve`` (bench/_live.py) signed in through the local OAuth
provider; each sync is ``soulspot library sync`` in its own process, so its wall time
includes the CLI's start-up (printed on its own line).

Run: ``.venv/bin/python bench/library.py [--latency 0.05] [--quick] [--check]``
(``--quick``: a library a tenth the size; ``--check`` exits 1 when a target is missed).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _live import BIN, live_soulspot, machine, sign_in
from _naive_exporter import NaiveExporter
from support.spotify_webapi import LIBRARY_SCOPES, SpotifyWebAPI, generate_library
from support.webapi_library import LibraryState

TARGET_RATIO = 1.00
TARGET_RESYNC = 10


@dataclass
class SyncRun:
    requests: int
    seconds: float
    output: str
    returncode: int


def used_bytes(db: Path) -> int:
    """Bytes of the database's pages in use (WAL included: a reader sees the latest commit)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def library_items(lib: LibraryState) -> int:
    """Items a vault of ``lib`` holds: playlist entries, liked songs, albums, artists."""
    return (
        sum(len(p.entries) for p in lib.playlists)
        + len(lib.liked)
        + len(lib.albums)
        + len(lib.artists)
    )


def cli_sync(env: dict[str, str], cwd: Path, api: SpotifyWebAPI, *args: str) -> SyncRun:
    """``soulspot library sync [args]`` in its own process; the stand-in counts its calls."""
    api.reset_log()
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "soulspot"), "library", "sync", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    seconds = time.perf_counter() - started
    return SyncRun(len(api.requests), seconds, done.stdout + done.stderr, done.returncode)


def cli_startup(env: dict[str, str], cwd: Path, runs: int = 3) -> float:
    """Median wall time of ``soulspot library status`` (the app's start-up and a few reads:
    the part of a CLI sync that is not syncing)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [str(BIN / "soulspot"), "library", "status"],
            cwd=cwd,
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def p95(session: requests.Session, url: str, runs: int) -> tuple[float, int]:
    """p95 wall time (ms) of ``runs`` GETs of ``url`` after one warm-up, and its status."""
    status = session.get(url, timeout=120).status_code
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = session.get(url, timeout=120)
        times.append(time.perf_counter() - started)
        status = answer.status_code if answer.status_code != 200 else status
    times.sort()
    return times[min(len(times) - 1, int(0.95 * len(times)))] * 1000, status


def grow(lib: LibraryState, target_items: int, big_playlist: int) -> str:
    """Add a ``big_playlist``-item playlist and 500-item playlists until the library holds
    ``target_items`` items; returns the big playlist's id."""
    tracks = [t for t, _ in lib.liked]
    big = lib.create_playlist(
        "Everything, ever", items=[tracks[i % len(tracks)] for i in range(big_playlist)]
    )
    number = 0
    while library_items(lib) < target_items:
        number += 1
        count = min(500, target_items - library_items(lib))
        lib.create_playlist(
            f"Grown {number}", items=[tracks[(number * 7 + i) % len(tracks)] for i in range(count)]
        )
    return big


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per Web API call")
    parser.add_argument("--quick", action="store_true", help="a library a tenth the size")
    parser.add_argument("--runs", type=int, default=40, help="GETs per page for the p95")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    opts = parser.parse_args(argv)
    scale = 10 if opts.quick else 1
    rows: list[tuple[str, str, str, str, str]] = []
    missed = False

    def row(label: str, ours: str, base: str, ratio: str, target: str = "") -> None:
        rows.append((label, ours, base, ratio, target))
        print(f"  {label}: {ours} | {base} | {ratio} {target}", flush=True)

    print("machine:", machine(), flush=True)
    lib = generate_library(
        seed=13,
        playlists=250 // scale,
        items=100,
        liked=20_000 // scale,
        albums=300 // scale,
        artists=200 // scale,
        foreign_playlists=5,
        collaborative_playlists=3,
    )
    minimum = lib.minimum_requests()
    items = library_items(lib)
    entries = sum(len(p.entries) for p in lib.playlists)
    print(
        f"library: {len(lib.playlists)} playlists ({entries} entries), {len(lib.liked)} liked,"
        f" {len(lib.albums)} albums, {len(lib.artists)} artists = {items} items;"
        f" latency {opts.latency * 1000:.0f} ms per call",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="soulspot-bench-library-") as tmp:
        work = Path(tmp)
        extra = {"SOULSPOT__LIBRARY__SYNC_SCHEDULE": "off"}  # no scheduled run in the way
        with live_soulspot(work, extra_env=extra) as live:
            api = SpotifyWebAPI.attach(live.provider)
            api.set_library("alice", lib)
            api.latency = opts.latency

            # the baseline: a peer-style exporter, twice (it keeps no state)
            token = live.provider.issue_access_token("alice", " ".join(LIBRARY_SCOPES))
            naive = NaiveExporter(live.provider.api_base_url, token)
            naive_first = naive.export(work / "naive-1.json")
            naive_again = naive.export(work / "naive-2.json")
            snapshot_bytes = (work / "naive-1.json").stat().st_size
            print(
                f"naive exporter: {naive_first.requests} requests, {naive_first.seconds:.1f} s",
                flush=True,
            )

            session = sign_in(live.url)
            db = live.data_dir / "soulspot.db"
            empty = used_bytes(db)
            startup = cli_startup(live.env, work)
            first = cli_sync(live.env, work, api)
            if first.returncode != 0:
                print(first.output, file=sys.stderr)
                raise SystemExit(f"soulspot library sync failed ({first.returncode})")
            grown = used_bytes(db) - empty
            again = cli_sync(live.env, work, api)

            ratio = first.requests / minimum
            missed |= ratio > TARGET_RATIO or again.requests > TARGET_RESYNC
            row(
                "first full sync, requests",
                f"{first.requests}",
                f"minimum {minimum}",
                f"{ratio:.2f}",
                f"target {TARGET_RATIO:.2f}: {verdict(ratio <= TARGET_RATIO)}",
            )
            row(
                "first full sync, naive exporter requests",
                f"{first.requests}",
                f"{naive_first.requests}",
                f"{first.requests / naive_first.requests:.2f}",
            )
            row(
                "first full sync, wall s",
                f"{first.seconds:.1f}",
                f"{naive_first.seconds:.1f}",
                f"{first.seconds / naive_first.seconds:.2f}",
            )
            row(
                "`soulspot library status` (start-up in each sync), wall s",
                f"{startup:.1f}",
                "",
                "",
            )
            row(
                "unchanged resync, requests",
                f"{again.requests}",
                f"{naive_again.requests}",
                f"{again.requests / naive_again.requests:.3f}",
                f"target <= {TARGET_RESYNC}: {verdict(again.requests <= TARGET_RESYNC)}",
            )
            row(
                "unchanged resync, wall s",
                f"{again.seconds:.1f}",
                f"{naive_again.seconds:.1f}",
                f"{again.seconds / naive_again.seconds:.3f}",
            )
            per = 10_000 / items
            row(
                "database bytes per 10,000 items",
                f"{grown * per:,.0f}",
                f"{snapshot_bytes * per:,.0f} (JSON snapshot)",
                f"{grown / snapshot_bytes:.2f}",
            )

            # pages with a 100,000-item vault
            api.latency = 0.0
            big = grow(lib, 100_000 // scale, 10_000 // scale)
            bigger = cli_sync(live.env, work, api)
            if bigger.returncode != 0:
                print(bigger.output, file=sys.stderr)
                raise SystemExit("growing the vault failed")
            base_ms, base_status = p95(session, f"{live.url}/", opts.runs)
            pages: list[tuple[str, str]] = [
                ("/library/liked", f"{live.url}/library/liked"),
                ("10,000-item playlist page", f"{live.url}/library/playlists/{big}"),
            ]
            for label, url in pages:
                ms, status = p95(session, url, opts.runs)
                row(
                    f"p95 {label} ({library_items(lib):,}-item vault), ms",
                    f"{ms:.1f} ({status})",
                    f"{base_ms:.1f} (/ {base_status})",
                    f"{ms / base_ms:.2f}",
                )

    print()
    print(f"{'measurement':<58}{'soulspot':>16}{'baseline':>30}{'ratio':>8}  target")
    for label, ours, base, ratio, target in rows:
        print(f"{label:<58}{ours:>16}{base:>30}{ratio:>8}  {target}")
    print(
        "baselines: bench/_naive_exporter.py against the same stand-in (requests, wall time,"
        " JSON bytes); the signed-in home page / (page p95)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 1 if missed and opts.check else 0


if __name__ == "__main__":
    sys.exit(main())
