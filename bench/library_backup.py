"""Backup and restore of a 100,000-item library vault (issue 13 §4), next to a baseline.

    .venv/bin/python bench/library_backup.py [--items 100000] [--json]

Builds a SoulSpot data dir whose vault holds ``--items`` items (playlist entries and liked
songs, 80/20) with some history (a second version of a tenth of the playlists), then runs
the real commands, each in its own process:

* ``soulspot backup create`` (snapshot, integrity check, archive, verify),
* ``soulspot backup restore <id> --yes`` (pre-restore backup, swap, checks),

and checks that the restored vault is the same: counts, every playlist's current entries and
the older version "as of" before the edit. Baseline in the same run: ``cp`` of the database
file. Prints the sizes and seconds; figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from soulspot import api
from soulspot.testing import build_app, to_toml

BIN = Path(sys.executable).parent


def populate(data_dir: Path, items: int) -> dict[str, Any]:
    """Fill a vault through the plugin's own history writer (no Spotify needed)."""
    from soulspot_library.history import Applied, History
    from soulspot_library.parse import EntryRec, PlaylistRec, SavedRec, TrackRec

    app = build_app(data_dir, {"plugins": {"spotify": {"client_id": "bench"}}})
    per_playlist = 400
    playlists = max(1, int(items * 0.8) // per_playlist)
    liked = items - playlists * per_playlist

    def track(n: int) -> TrackRec:
        tid = hashlib.sha256(f"t{n}".encode()).hexdigest()[:22]
        return TrackRec(
            tid,
            f"spotify:track:{tid}",
            "track",
            f"Track {n}",
            (f"Artist {n % 997}",),
            f"Album {n % 3001}",
            180_000 + n % 60_000,
            False,
            f"https://open.spotify.com/track/{tid}",
        )

    with app.app_context(), api.storage().connection():
        history = History("bench-1", Applied())
        recs = [
            PlaylistRec(
                f"pl{n:05d}",
                f"Playlist {n}",
                "",
                "bench",
                "Bench",
                f"s{n}-1",
                per_playlist,
                False,
                False,
                None,
            )
            for n in range(playlists)
        ]
        now = time.time() - 3600
        with api.storage().write_transaction():
            history.apply_playlists(recs, now)
        for n, rec in enumerate(recs):
            entries = [
                EntryRec(track(n * per_playlist + i), now - i, "bench") for i in range(per_playlist)
            ]
            with api.storage().write_transaction():
                history.apply_entries(rec.id, rec.snapshot_id, entries, now)
        saved = [SavedRec(track(10_000_000 + i), now - i) for i in range(liked)]
        with api.storage().write_transaction():
            history.apply_liked(saved, now)
        later = time.time() - 60
        edited = recs[: max(1, playlists // 10)]
        second = History("bench-2", Applied())
        for n, rec in enumerate(edited):
            entries = [
                EntryRec(track(n * per_playlist + i), now - i, "bench")
                for i in range(1, per_playlist)
            ]
            with api.storage().write_transaction():
                second.apply_entries(rec.id, rec.snapshot_id + "b", entries, later)
        return {
            "db": api.storage().path,
            "playlists": playlists,
            "liked": liked,
            "as_of": (now + later) / 2,
            "edited": [r.id for r in edited],
        }


def fingerprint(data_dir: Path, as_of: float, edited: list[str]) -> dict[str, Any]:
    from soulspot_library.queries import counts, entries

    app = build_app(data_dir, {"plugins": {"spotify": {"client_id": "bench"}}})
    with app.app_context(), api.storage().connection():
        vault = api.library()
        digest = hashlib.sha256()
        for playlist in vault.playlists():
            for entry in vault.playlist_entries(playlist.id):
                digest.update((entry.track.id if entry.track else "-").encode())
        for item in vault.liked():
            digest.update(item.track.id.encode())
        older = [len(entries(pid, as_of)) for pid in edited]
        return {"counts": counts(), "current": digest.hexdigest(), "older": older}


def run(args: list[str], config: Path) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    start = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "soulspot"), "--config", str(config), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"soulspot {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return took, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        info = populate(data_dir, opts.items)
        fill = time.perf_counter() - started
        before = fingerprint(data_dir, info["as_of"], info["edited"])
        db = Path(info["db"])
        size = db.stat().st_size
        start = time.perf_counter()
        shutil.copyfile(db, Path(tmp) / "copy.db")
        cp = time.perf_counter() - start
        config = Path(tmp) / "soulspot.toml"
        config.write_text(
            to_toml(
                {
                    "kernel": {"data_dir": str(data_dir)},
                    "plugins": {"spotify": {"client_id": "bench"}},
                }
            )
        )
        create, _ = run(["backup", "create"], config)
        listed = json.loads(run(["backup", "list", "--json"], config)[1])
        newest = (
            max(listed, key=lambda b: b["created_at"])
            if isinstance(listed, list)
            else max(listed["backups"], key=lambda b: b["created_at"])
        )
        restore, _ = run(["backup", "restore", newest["id"], "--yes"], config)
        after = fingerprint(data_dir, info["as_of"], info["edited"])
        same = before == after
        result = {
            "items": opts.items,
            "playlists": info["playlists"],
            "liked": info["liked"],
            "entries_rows": before["counts"]["entries"],
            "database_bytes": size,
            "fill_seconds": round(fill, 2),
            "cp_seconds": round(cp, 3),
            "backup_create_seconds": round(create, 2),
            "backup_restore_seconds": round(restore, 2),
            "restored_vault_identical": same,
        }
    if opts.json:
        print(json.dumps(result, indent=1))
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value}")
    if not same:
        raise SystemExit("the restored vault differs from the backed-up one")


if __name__ == "__main__":
    main()
