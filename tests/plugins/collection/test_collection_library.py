"""With the real library plugin synced from the Web API stand-in: the CLI, rematching after a
sync (library_synced), and decisions that survive later syncs and scans."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

from tests.support.audio_files import AUDIO_TYPES, Tags, write_audio

from soulspot import api
from soulspot.testing import deep_merge
from soulspot_collection.service import service


def music_tracks(home):
    with home.app.app_context(), api.storage().connection():
        return [t for t in api.library().tracks() if t.uri.startswith("spotify:track:")]


def keep_some(home, tracks, share=0.7, seed=1):
    """Files for a share of the tracks: exact tags, a few with the Spotify URL in the comment."""
    rng = random.Random(seed)
    kept = []
    for n, track in enumerate(tracks):
        if rng.random() > share:
            continue
        comment = track.spotify_url if n % 5 == 0 else None
        tags = Tags(track.name, " & ".join(track.artists), track.album, comment)
        kind = AUDIO_TYPES[n % len(AUDIO_TYPES)]
        write_audio(home.music / f"{n:03d}.{kind}", tags, (track.duration_ms or 200_000) / 1000 + 1)
        kept.append(track.id)
    return kept


def cli(run_cli, home, *args):
    return run_cli(
        ["collection", *args],
        config=deep_merge({}, home.settings),
        only=["sqlite", "spotify", "library", "collection"],
    )


def test_the_cli_scans_reports_and_exports(home, run_cli, tmp_path):
    home.sync()
    tracks = music_tracks(home)
    kept = keep_some(home, tracks)
    scanned = cli(run_cli, home, "scan")
    assert scanned.exit_code == 0, scanned.output
    assert f"{len(kept)} files: {len(kept)} new" in scanned.stdout
    assert "Scanning" in scanned.stderr  # the progress bar
    assert f"{len(tracks)} tracks rematched" in scanned.stdout

    status = json.loads(cli(run_cli, home, "status", "--json").stdout)
    assert status["files"]["files"] == len(kept)
    assert status["tracks"]["matched"] >= 0.95 * len(kept)
    with home.app.app_context(), api.storage().connection():
        playlists = [p for p in api.library().playlists() if p.readable]
    assert [item["name"] for item in status["lists"]] == ["Liked Songs"] + [
        p.name for p in playlists
    ]
    text = cli(run_cli, home, "status").stdout
    assert "Liked Songs" in text and "last scan:" in text

    missing = cli(run_cli, home, "missing", "--csv")
    rows = list(csv.DictReader(io.StringIO(missing.stdout)))
    assert rows and all(r["list"] for r in rows)
    assert {r["spotify_url"].rsplit("/", 1)[-1] for r in rows}.isdisjoint(set(kept) - {None})
    one = cli(run_cli, home, "missing", "--playlist", "liked")
    assert one.exit_code == 0 and all(
        line.startswith("Liked Songs\t") for line in one.stdout.splitlines()
    )
    unknown = cli(run_cli, home, "missing", "--playlist", "nope")
    assert unknown.exit_code == 2 and "no playlist 'nope'" in unknown.stderr

    out = tmp_path / "m3u"
    exported = cli(run_cli, home, "export-playlists", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    files = sorted(out.glob("*.m3u8"))
    assert len(files) == len(playlists) + 1
    liked = (out / "Liked Songs.m3u8").read_text(encoding="utf-8").splitlines()
    assert liked[0] == "#EXTM3U"
    paths = [line for line in liked if not line.startswith("#")]
    assert paths and all((out / p).resolve().parent == home.music.resolve() for p in paths)
    assert sum(line.startswith("#EXTINF:") for line in liked) == len(paths)

    again = cli(run_cli, home, "scan")
    assert f"{len(kept)} files: 0 new, 0 changed, 0 removed, 0 read" in again.stdout


def test_a_sync_rematches_what_it_changed_and_decisions_survive(home, webapi):
    home.sync()
    tracks = music_tracks(home)
    keep_some(home, tracks, share=0.5)
    with home.app.app_context():
        service(home.app).scan()
        standing = service(home.app).standing()
    missing = [t for t in tracks if standing[t.id][0] == "missing"]
    matched = [t for t in tracks if standing[t.id][0] == "matched"]
    assert missing and matched
    unwanted, rejected = missing[0], matched[0]
    assert (
        home.post_json(
            "/api/collection/decisions", {"track_id": unwanted.id, "decision": "not_wanted"}
        ).get_json()["status"]
        == "not_wanted"
    )
    assert (
        home.post_json(
            "/api/collection/decisions",
            {"track_id": rejected.id, "decision": "reject", "file_id": standing[rejected.id][1]},
        ).get_json()["status"]
        != "matched"
    )

    # the owner likes a new song, which is on disk already
    lib = webapi.library("alice")
    song = lib.make_track("Brand New Sóng", ["Zoë Keating"], "Into The Trees", 245_000)
    lib.like(song)
    write_audio(home.music / "new" / "brand-new.flac", Tags("Brand New Song", "Zoe Keating"), 246)
    with home.app.app_context():
        service(home.app).scan()  # the new file alone: the track is not in the vault yet
    outcome = home.sync()
    assert outcome is not None
    with home.app.app_context():
        after = service(home.app).standing()
    assert after[song.id][0] == "matched"
    assert after[unwanted.id][0] == "not_wanted"
    assert after[rejected.id][0] != "matched"
    # a second sync with nothing new changes nothing
    home.sync()
    with home.app.app_context():
        assert service(home.app).standing() == after

    page = home.get("/collection").get_data(as_text=True)
    assert "Liked Songs" in page
    with home.app.app_context(), api.storage().connection():
        (matched_file,) = service(home.app).files_by_id([after[song.id][1]]).values()
    assert Path(matched_file.path).name == "brand-new.flac"
