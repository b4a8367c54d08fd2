"""What the owner sees: the Library pages (nav, search, paging, as-of, diff, links back to
Spotify, Sync now, progress), the JSON API in the OpenAPI document, the scheduled job, the
health check and the metrics."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from flask import Flask
from library_support import Owner, in_app, sync

from soulspot.testing import run_jobs
from support.spotify_webapi import SpotifyWebAPI


def _owned(webapi: SpotifyWebAPI) -> Any:
    lib = webapi.library("alice")
    return next(
        p
        for p in lib.playlists
        if p.owner_id == "alice" and not p.collaborative and len(p.entries) > 3
    )


def test_pages_show_the_vault_with_links_back_to_spotify(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    lib = webapi.library("alice")
    sync(app)
    home = owner.get("/library").get_data(as_text=True)
    assert '<a href="/library"' in home and ">Library</a>" in home  # nav
    assert f"<td>{len(lib.liked)}</td>" in home and "Sync now" in home
    playlists = owner.get("/library/playlists").get_data(as_text=True)
    for p in lib.playlists:
        assert f"/library/playlists/{p.id}" in playlists
    assert "items not readable" in playlists  # the followed playlist
    liked = owner.get("/library/liked").get_data(as_text=True)
    newest = lib.liked[0][0]
    assert f'href="https://open.spotify.com/track/{newest.id}"' in liked
    assert "Page 1 of 3 (120 in all)" in liked
    second = owner.get("/library/liked?page=3").get_data(as_text=True)
    assert lib.liked[-1][0].name in second
    query = lib.liked[7][0].name
    found = owner.get(f"/library/liked?q={query}").get_data(as_text=True)
    matching = [t for t, _ in lib.liked if query.lower() in t.name.lower()]
    assert (query in found and f"{len(matching)} in all" in found) or len(matching) > 50
    albums = owner.get("/library/albums").get_data(as_text=True)
    assert all(a.name in albums for a, _ in lib.albums)
    artists = owner.get("/library/artists?q=" + next(iter(lib.artists.values())).name)
    assert artists.status_code == 200
    feed = owner.get("/library/changes?kind=playlist_").get_data(as_text=True)
    assert feed.count("playlist created") == len(lib.playlists)
    assert owner.get("/library/playlists/nope").status_code == 404
    assert owner.get("/library/liked?at=tomorrow").status_code == 422


def test_a_playlist_page_has_a_timeline_as_of_and_diff(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    lib = webapi.library("alice")
    sync(app)
    playlist = _owned(webapi)
    first = playlist.entries[0].item
    time.sleep(0.01)
    lib.remove_item(playlist.id, 0)
    sync(app)
    page = owner.get(f"/library/playlists/{playlist.id}").get_data(as_text=True)
    versions = re.findall(r'<option value="([0-9T:.\-Z]+)"', page)
    assert len(set(versions)) == 2
    assert f'href="https://open.spotify.com/playlist/{playlist.id}"' in page
    old, new = sorted(set(versions))
    then = owner.get(f"/library/playlists/{playlist.id}?at={old}").get_data(as_text=True)
    assert first.name in then and "As of" in then
    diff = owner.get(f"/library/playlists/{playlist.id}?from={old}&to={new}").get_data(as_text=True)
    listed = diff[diff.index('<ul id="diff">') :]
    assert f"- 0: {', '.join(a.name for a in first.artists)} - {first.name}" in listed


def test_sync_now_runs_in_the_background_and_shows_progress(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    from soulspot_library.service import service

    resp = owner.post("/library/sync", {"csrf_token": owner.csrf()})
    assert resp.status_code == 302
    service(app).wait(30)
    page = owner.get("/library").get_data(as_text=True)
    assert "Sync started." in page
    assert '<span id="last-run-status">ok</span>' in page


def test_the_json_api_and_its_openapi_document(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    lib = webapi.library("alice")
    sync(app)
    status = owner.get("/api/library/status").get_json()
    assert status["counts"]["liked"] == len(lib.liked)
    assert status["last_run"]["status"] == "ok" and status["auth"]["reauthorise"] is False
    listed = owner.get("/api/library/playlists").get_json()
    assert listed["paging"]["total"] == len(lib.playlists)
    playlist = _owned(webapi)
    items = owner.get(f"/api/library/playlists/{playlist.id}").get_json()
    assert [i["track"]["id"] if i["track"] else None for i in items["items"]] == [
        e.item.id if e.item else None for e in playlist.entries[:50]
    ]
    liked = owner.get("/api/library/liked?page=2").get_json()
    assert liked["liked"][0]["track"]["id"] == lib.liked[50][0].id
    assert owner.get("/api/library/albums").get_json()["paging"]["total"] == len(lib.albums)
    assert owner.get("/api/library/artists").get_json()["paging"]["total"] == len(lib.artists)
    feed = owner.get("/api/library/changes?kind=liked").get_json()
    assert feed["paging"]["total"] == len(lib.liked)
    diff = owner.get(f"/api/library/playlists/{playlist.id}/diff").get_json()
    assert len(diff["changes"]) == len(playlist.entries)  # from nothing to now: all added
    assert owner.get("/api/library/liked?page=0").status_code == 422
    assert owner.get("/api/library/status?x=1").status_code == 422
    doc = owner.get("/api/openapi.json").get_json()
    for path in (
        "/api/library/status",
        "/api/library/playlists",
        "/api/library/playlists/{playlist_id}",
        "/api/library/playlists/{playlist_id}/diff",
        "/api/library/liked",
        "/api/library/albums",
        "/api/library/artists",
        "/api/library/changes",
    ):
        assert path in doc["paths"], path


def test_the_scheduled_job_health_and_metrics(library_app: Any, webapi: SpotifyWebAPI) -> None:
    app = library_app(
        {
            "plugins": {
                "library": {"sync_schedule": "15 */6 * * 1-5"},
                "observability": {"health_cache_seconds": 0},
            }
        }
    )
    Owner(app).sign_in()
    from soulspot.scheduler import collect_jobs

    (job,) = [j for j in collect_jobs(app) if j.id == "library.sync"]
    assert job.trigger == "cron" and job.trigger_args["day_of_week"] == "mon-fri"
    assert job.trigger_args["minute"] == "15" and job.trigger_args["hour"] == "*/6"
    health = app.test_client().get("/health", base_url="http://127.0.0.1:8765").get_json()
    checks = {c["name"]: c for c in health["checks"]}
    assert checks["library_sync"]["status"] == "warn" and not checks["library_sync"]["critical"]
    run_jobs(app, "library.sync")
    health = app.test_client().get("/health", base_url="http://127.0.0.1:8765").get_json()
    checks = {c["name"]: c for c in health["checks"]}
    assert checks["library_sync"]["status"] == "ok"
    webapi.rate_limit("/v1/me/tracks", times=1, retry_after=0)
    run_jobs(app, "library.sync")
    text = (
        app.test_client().get("/metrics", base_url="http://127.0.0.1:8765").get_data(as_text=True)
    )
    assert 'soulspot_library_spotify_requests_total{endpoint="/me/tracks",status="429"} 1.0' in text
    assert 'soulspot_library_sync_runs_total{outcome="ok"} 2.0' in text
    assert "soulspot_library_rate_limited_total 1.0" in text
    assert 'soulspot_library_items{list="liked"} 120.0' in text
    assert re.search(r'soulspot_library_changes_total\{kind="liked"\} 120\.0', text)
    assert "soulspot_library_sync_duration_seconds_count 2.0" in text
    events = in_app(
        app,
        lambda: [e.event for e in __import__("soulspot").api.storage().audit.query(limit=50)],
    )
    assert events.count("library.sync_started") == 2 and events.count("library.sync_finished") == 2


@pytest.mark.parametrize("schedule", ["off"])
def test_no_job_when_the_schedule_is_off(library_app: Any, schedule: str) -> None:
    from soulspot.scheduler import collect_jobs

    app = library_app({"plugins": {"library": {"sync_schedule": schedule}}})
    assert [j for j in collect_jobs(app) if j.id == "library.sync"] == []


def test_a_bad_schedule_is_a_config_error(library_app: Any) -> None:
    from soulspot.config import ConfigError

    with pytest.raises(ConfigError, match="sync_schedule"):
        library_app({"plugins": {"library": {"sync_schedule": "every tuesday"}}})
