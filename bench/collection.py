"""The collection plugin's scan and matcher, each next to its baseline in the same run.

    .venv/bin/python bench/collection.py [--files 50000] [--tracks 20000] [--sample 100] [--json]

A labelled collection (tests/support/collection_corpus.py: perturbed tags, duplicates,
untagged files, covers, live versions, songs not in the library) is written as tiny valid
audio files of all seven types into a temporary folder (page cache warm for every side), and
a vault of ``--tracks`` Spotify tracks is served to the plugin. Then:

* **scan** of all files by the plugin (walk, tinytag, rows written to SQLite), against a bare
  loop of ``TinyTag.get`` over the same paths, and against ``os.scandir`` + ``stat`` alone
  (the floor: no tags at all);
* **unchanged rescan** (nothing to read) against ``os.scandir`` + ``stat`` alone;
* **matching** every track against every file through the index, against a naive all-pairs
  loop (the same scoring function over every file) on ``--sample`` tracks, extrapolated;
* **precision / recall** of the automatic matches on this labelled set.

Ratios: plugin time / baseline time (lower is better; the floor cannot be beaten).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.collection_corpus import Corpus, generate  # noqa: E402

from soulspot import hookimpl  # noqa: E402
from soulspot.testing import build_app  # noqa: E402
from soulspot.types import PluginManifest  # noqa: E402
from soulspot.vault import LikedTrack, PlaylistEntry, VaultPlaylist, VaultTrack  # noqa: E402


class BenchVault:
    """The ``library`` concern over the generated tracks (no Spotify needed)."""

    def __init__(self, corpus: Corpus) -> None:
        self.known = {
            t.id: VaultTrack(
                t.id,
                f"spotify:track:{t.id}",
                t.name,
                t.artists,
                t.album,
                t.duration_ms,
                False,
                f"https://open.spotify.com/track/{t.id}",
            )
            for t in corpus.tracks
        }

    def tracks(self, ids: Any = None) -> Any:
        if ids is None:
            return iter(list(self.known.values()))
        return iter([self.known[i] for i in ids if i in self.known])

    def playlists(self, *, include_removed: bool = False) -> list[VaultPlaylist]:
        return []

    def playlist_entries(self, playlist_id: str) -> list[PlaylistEntry]:
        return []

    def liked(self) -> list[LikedTrack]:
        return []

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(provides=("library",), description="bench vault")

    @hookimpl
    def library_vault(self, app: Any) -> Any:
        return self


def stat_floor(root: Path) -> tuple[float, int]:
    started = time.perf_counter()
    count = 0
    stack = [str(root)]
    while stack:
        for entry in os.scandir(stack.pop()):
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            else:
                entry.stat()
                count += 1
    return time.perf_counter() - started, count


def bare_tinytag(paths: list[str]) -> float:
    from tinytag import TinyTag

    started = time.perf_counter()
    for path in paths:
        try:
            TinyTag.get(path)
        except Exception:
            continue
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from soulspot import api
    from soulspot_collection.matcher import FileIndex, prepare_file, prepare_track, score
    from soulspot_collection.reconcile import present_files, vault_tracks
    from soulspot_collection.scanner import run_scan
    from soulspot_collection.service import service

    work = Path(tempfile.mkdtemp(prefix="soulspot-bench-collection-"))
    try:
        probe = generate(seed=16, tracks=args.tracks, extra_files=0)
        corpus = generate(
            seed=16, tracks=args.tracks, extra_files=max(0, args.files - len(probe.files))
        )
        music = work / "music"
        started = time.perf_counter()
        corpus.write(music)
        written = time.perf_counter() - started
        paths = [str(music / f.relpath) for f in corpus.files]

        app = build_app(
            work / "data",
            {"plugins": {"collection": {"music_dirs": [str(music)]}}},
            plugins=[("benchvault", BenchVault(corpus))],
            only=["sqlite", "collection"],
        )
        floor, counted = stat_floor(music)
        tags = bare_tinytag(paths)
        with app.app_context():
            svc = service(app)
            first = run_scan([music], list(svc.config.file_types), True, svc.lock_path)
            floor_again, _ = stat_floor(music)
            rescan = run_scan([music], list(svc.config.file_types), True, svc.lock_path)
            assert rescan.read == 0, rescan

            with api.storage().connection():
                files = list(present_files())
                tracks = vault_tracks(api.library())
                started = time.perf_counter()
                index = FileIndex(files)
                built = time.perf_counter() - started
                results = {tid: index.match(t) for tid, t in tracks.items()}
                matched_in = time.perf_counter() - started
                candidates = sum(len(index.candidates(prepare_track(t))) for t in tracks.values())

                prepared = [p for p in (prepare_file(f) for f in files) if p is not None]
                sample = list(tracks.values())[: args.sample]
                started = time.perf_counter()
                for track in sample:
                    mine = prepare_track(track)
                    best = max((score(mine, p)[0] for p in prepared), default=0.0)
                    assert best >= 0
                naive_sample = time.perf_counter() - started
                naive = naive_sample * len(tracks) / len(sample)

                paths_by_id = {f.id: f for f in svc.files_by_id([f.id for f in files]).values()}
        truth = corpus.truth_by_path(music)
        auto = {tid: r.file_id for tid, r in results.items() if r.status == "matched"}
        correct = {
            tid
            for tid, fid in auto.items()
            if fid is not None and truth.get(paths_by_id[fid].path) == tid
        }
        review = sum(1 for r in results.values() if r.status == "review")
        precision = len(correct) / max(1, len(auto))
        recall = len(correct) / max(1, len(corpus.findable()))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    out = {
        "files": len(corpus.files),
        "tracks": len(tracks),
        "write_seconds": round(written, 1),
        "scan": {
            "plugin_seconds": round(first.duration, 2),
            "plugin_files_per_s": round(first.seen / first.duration),
            "tinytag_loop_seconds": round(tags, 2),
            "tinytag_loop_files_per_s": round(len(paths) / tags),
            "stat_floor_seconds": round(floor, 3),
            "stat_floor_files_per_s": round(counted / floor),
            "ratio_to_tinytag_loop": round(first.duration / tags, 2),
            "ratio_to_stat_floor": round(first.duration / floor, 1),
            "unreadable": first.unreadable,
        },
        "rescan_unchanged": {
            "plugin_seconds": round(rescan.duration, 2),
            "stat_floor_seconds": round(floor_again, 3),
            "ratio_to_stat_floor": round(rescan.duration / floor_again, 1),
        },
        "matching": {
            "index_build_seconds": round(built, 2),
            "plugin_seconds": round(matched_in, 2),
            "candidates_per_track": round(candidates / len(tracks), 1),
            "share_of_all_pairs": round(candidates / (len(tracks) * len(prepared)), 5),
            "naive_sample_tracks": len(sample),
            "naive_sample_seconds": round(naive_sample, 2),
            "naive_extrapolated_seconds": round(naive, 1),
            "ratio_to_naive": round(matched_in / naive, 4),
        },
        "labelled": {
            "automatic": len(auto),
            "review": review,
            "findable": len(corpus.findable()),
            "precision": round(precision, 4),
            "recall": round(recall, 4),
        },
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    s, r, m, lab = out["scan"], out["rescan_unchanged"], out["matching"], out["labelled"]
    print(f"{out['files']} files, {out['tracks']} tracks (written in {out['write_seconds']} s)")
    print(
        f"scan: plugin {s['plugin_seconds']} s ({s['plugin_files_per_s']} files/s); "
        f"tinytag loop {s['tinytag_loop_seconds']} s ({s['tinytag_loop_files_per_s']}/s); "
        f"scandir+stat {s['stat_floor_seconds']} s ({s['stat_floor_files_per_s']}/s); "
        f"ratios {s['ratio_to_tinytag_loop']}x tinytag, {s['ratio_to_stat_floor']}x floor"
    )
    print(
        f"unchanged rescan: plugin {r['plugin_seconds']} s; scandir+stat "
        f"{r['stat_floor_seconds']} s; ratio {r['ratio_to_stat_floor']}x"
    )
    print(
        f"matching: {m['plugin_seconds']} s (index {m['index_build_seconds']} s, "
        f"{m['candidates_per_track']} candidates/track = {m['share_of_all_pairs']} of all pairs); "
        f"naive all-pairs {m['naive_extrapolated_seconds']} s extrapolated from "
        f"{m['naive_sample_tracks']} tracks; ratio {m['ratio_to_naive']}"
    )
    print(
        f"labelled: precision {lab['precision']}, recall {lab['recall']} "
        f"({lab['automatic']} automatic, {lab['review']} to review, {lab['findable']} findable)"
    )


if __name__ == "__main__":
    main()
