"""``soulspot library sync|status|diff|export`` on the signed-in app's data, and the same
exports from the UI as a zip."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

from flask import Flask
from library_support import TEST_CONFIG, Owner, in_app, sync

from soulspot import api
from soulspot.testing import deep_merge
from support.spotify_webapi import SpotifyWebAPI

EXPORTIFY = (
    "Track URI,Track Name,Artist URI(s),Artist Name(s),Album URI,Album Name,Album Artist URI(s),"
    "Album Artist Name(s),Album Release Date,Album Image URL,Disc Number,Track Number,"
    "Track Duration (ms),Track Preview URL,Explicit,Popularity,ISRC,Added By,Added At"
)


def _cli(run_cli: Any, app: Flask, provider: Any, args: list[str]) -> Any:
    data_dir = in_app(app, api.data_dir)
    config = deep_merge(TEST_CONFIG, {"plugins": {"spotify": provider.client_config()}})
    return run_cli(args, config=deep_merge(config, {"kernel": {"data_dir": str(data_dir)}}))


def _owned(webapi: SpotifyWebAPI) -> Any:
    lib = webapi.library("alice")
    return next(p for p in lib.playlists if p.owner_id == "alice" and len(p.entries) > 3)


def test_sync_status_and_diff_from_the_command_line(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI, provider: Any, run_cli: Any
) -> None:
    result = _cli(run_cli, app, provider, ["library", "sync"])
    assert result.exit_code == 0, result.output
    assert "library sync ok:" in result.stdout and "request(s) to Spotify" in result.stdout
    status = _cli(run_cli, app, provider, ["library", "status"])
    assert status.exit_code == 0, status.output
    lib = webapi.library("alice")
    assert f"liked songs: {len(lib.liked)}" in status.stdout
    assert "next scheduled sync: " in status.stdout and " ok " in status.stdout
    from soulspot_library.times import iso_ms

    between = iso_ms(time.time())  # covers this millisecond
    time.sleep(0.01)
    playlist = _owned(webapi)
    gone = playlist.entries[0].item
    lib.remove_item(playlist.id, 0)
    again = _cli(run_cli, app, provider, ["library", "sync", "--full"])
    assert again.exit_code == 0, again.output
    diff = _cli(run_cli, app, provider, ["library", "diff", playlist.id, "--from", between])
    assert diff.exit_code == 0, diff.output
    assert f"- 0: {', '.join(a.name for a in gone.artists)} - {gone.name}" in diff.stdout
    assert "0 added, 1 removed, 0 moved" in diff.stdout
    bad = _cli(run_cli, app, provider, ["library", "diff", playlist.id, "--from", "yesterday"])
    assert bad.exit_code == 2
    assert "--from 'yesterday' is not an ISO 8601 date or time" in bad.stderr
    unknown = _cli(run_cli, app, provider, ["library", "diff", "nope"])
    assert unknown.exit_code == 1 and "no playlist 'nope' in the vault" in unknown.stderr


def test_exports_json_csv_m3u8(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI, provider: Any, run_cli: Any, tmp_path: Path
) -> None:
    lib = webapi.library("alice")
    playlist = _owned(webapi)
    local = lib.make_local_track("Home demo", "Me", "Tapes", 61_000)
    lib.add_items(playlist.id, [local, None])
    sync(app)
    for fmt in ("json", "csv", "m3u8"):
        result = _cli(
            run_cli,
            app,
            provider,
            ["library", "export", "--format", fmt, "--out", str(tmp_path / fmt)],
        )
        assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "json" / "library.json").read_text())
    assert data["schema"] == "soulspot.library.export" and data["schema_version"] == 1
    exported = next(p for p in data["playlists"] if p["id"] == playlist.id)
    assert [i["track"]["uri"] if i["track"] else None for i in exported["items"]] == [
        e.item.uri if e.item else None for e in playlist.entries
    ]
    assert exported["items"][-2]["track"]["is_local"] is True
    assert [x["track"]["id"] for x in data["liked"]] == [t.id for t, _ in lib.liked]
    assert len(data["albums"]) == len(lib.albums) and len(data["artists"]) == len(lib.artists)
    text = (tmp_path / "csv" / f"{playlist.name}.csv").read_text()
    assert text.splitlines()[0] == EXPORTIFY
    rows = list(csv.DictReader(io.StringIO(text)))
    playable = [e.item for e in playlist.entries if e.item is not None]
    assert [r["Track URI"] for r in rows] == [t.uri for t in playable]
    assert rows[0]["Track Name"] == playable[0].name
    assert rows[0]["Added By"] == "spotify:user:alice" and rows[0]["Added At"].endswith("Z")
    liked_csv = list(
        csv.DictReader(io.StringIO((tmp_path / "csv" / "Liked Songs.csv").read_text()))
    )
    assert len(liked_csv) == len(lib.liked)
    m3u = (tmp_path / "m3u8" / f"{playlist.name}.m3u8").read_text().splitlines()
    assert m3u[0] == "#EXTM3U"
    first = playable[0]
    artists = ", ".join(a.name for a in first.artists)
    assert m3u[1] == f"#EXTINF:{round(first.duration_ms / 1000)},{artists} - {first.name}"
    assert m3u[2] == f"spotify:track:{first.id}"
    assert "#EXTINF:61,Me - Home demo" in m3u and local.uri in m3u
    bad = _cli(run_cli, app, provider, ["library", "export", "--format", "xml", "--out", "x"])
    assert bad.exit_code == 2 and "'xml' is not one of" in bad.output


def test_export_as_of_a_past_time_and_the_ui_zip(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    from soulspot_library.export import snapshot

    lib = webapi.library("alice")
    sync(app)
    playlist = _owned(webapi)
    before = [e.item.uri if e.item else None for e in playlist.entries]
    moment = time.time()
    time.sleep(0.01)
    lib.remove_item(playlist.id, 0)
    sync(app)
    past = in_app(app, lambda: snapshot(moment))
    then = next(p for p in past["playlists"] if p["id"] == playlist.id)
    assert [i["track"]["uri"] if i["track"] else None for i in then["items"]] == before
    resp = owner.get("/library/export?format=csv")
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(resp.data)).namelist()
    assert "Liked Songs.csv" in names and f"{playlist.name}.csv" in names
    bad = owner.get("/library/export?format=csv&at=soon")
    assert bad.status_code == 422
    from library_support import in_app as run

    events = run(
        app, lambda: api.storage().audit.query(event="library.export_downloaded", limit=10)
    )
    assert [e.details["format"] for e in events] == ["csv"]
