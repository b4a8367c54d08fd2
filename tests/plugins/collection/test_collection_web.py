"""The Collection pages, their CSV, "Scan now", the API's OpenAPI entries, health and metrics."""

from __future__ import annotations

import csv
import io
import time

import pytest
from collection_support import ONLY, VaultPlugin, config, vault_of
from prometheus_client.parser import text_string_to_metric_families
from tests.support.collection_corpus import generate

from soulspot_collection.service import service

WITH_HEALTH = [*ONLY, "observability", "metrics"]


@pytest.fixture(scope="module")
def corpus():
    return generate(seed=5, tracks=40, extra_files=5)


@pytest.fixture
def app(make_app, tmp_path, corpus):
    music = tmp_path / "music"
    corpus.write(music)
    (music / "broken.mp3").write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x10junk")
    app = make_app(
        config(music), only=WITH_HEALTH, plugins=[("vault", VaultPlugin(vault_of(corpus.tracks)))]
    )
    return app


def wait_for_scan(client, deadline=20.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        status = client.get("/api/collection/status").get_json()
        if not status["scanning"] and status["last_scan"] and status["last_scan"]["finished_at"]:
            return status
        time.sleep(0.05)
    raise AssertionError("the scan did not finish in time")


def test_scan_now_then_every_page_shows_the_collection(app, corpus):
    client = app.test_client()
    page = client.get("/collection").get_data(as_text=True)
    assert "Never scanned" in page and "Scan now" in page
    assert client.post("/collection/scan", data={}).status_code == 302
    status = wait_for_scan(client)
    assert status["files"] == {"files": len(corpus.files) + 1, "unreadable": 1}
    assert status["lists"][0]["name"] == "Liked Songs"
    assert sum(status["tracks"].values()) == len(corpus.tracks)

    page = client.get("/collection").get_data(as_text=True)
    assert "Playlist 0" in page and "Liked Songs" in page and "Never scanned" not in page
    missing = client.get("/collection/missing").get_data(as_text=True)
    assert f"{status['tracks']['missing']} missing." in missing
    review = client.get("/collection/review").get_data(as_text=True)
    assert f"{status['tracks']['review']} tracks need a decision" in review
    assert "review.js" in review
    files = client.get("/collection/files").get_data(as_text=True)
    assert "broken.mp3" in files and "match no Spotify track" in files


def test_missing_tracks_export_as_csv_per_playlist(app):
    client = app.test_client()
    with app.app_context():
        service(app).scan()
    lists = client.get("/api/collection/status").get_json()["lists"]
    chosen = next(item for item in lists if item["missing"] and item["id"] != "liked")
    api_items = client.get(f"/api/collection/missing?playlist={chosen['id']}").get_json()
    answer = client.get(f"/collection/missing.csv?playlist={chosen['id']}")
    assert answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert len(rows) == api_items["total"] > 0
    assert {r["list"] for r in rows} == {chosen["name"]}
    assert all(r["spotify_url"].startswith("https://open.spotify.com/track/") for r in rows)
    assert client.get("/collection/missing?playlist=nope").status_code == 404
    assert (
        client.get("/api/collection/missing?playlist=nope").mimetype == "application/problem+json"
    )


def test_api_is_validated_and_in_the_openapi_document(app):
    client = app.test_client()
    assert client.get("/api/collection/files?limit=0").status_code == 422
    assert client.get("/api/collection/status?x=1").status_code == 422
    assert client.post("/api/collection/scan", json={"full": "often"}).status_code == 422
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path in ("status", "scan", "missing", "review", "decisions", "files", "unreadable"):
        assert f"/api/collection/{path}" in paths
    assert client.post("/api/collection/scan", json={}).status_code == 202
    wait_for_scan(client)


def test_health_warns_until_scanned_and_about_unreadable_files(make_app, tmp_path, corpus):
    music = tmp_path / "music"
    corpus.write(music)
    (music / "broken.mp3").write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x10junk")
    settings = config(music)
    settings["plugins"]["observability"] = {"health_cache_seconds": 0}
    vault = [("vault", VaultPlugin(vault_of(corpus.tracks)))]
    app = make_app(settings, only=WITH_HEALTH, plugins=vault)
    client = app.test_client()

    def check():
        (found,) = [
            c for c in client.get("/health").get_json()["checks"] if c["name"] == "collection"
        ]
        assert found["critical"] is False
        return found

    before = check()
    assert before["status"] == "warn" and "never scanned" in before["message"]
    with app.app_context():
        service(app).scan()
    after = check()
    assert after["status"] == "warn" and "1 files cannot be read" in after["message"]
    assert client.get("/health/ready").status_code == 200  # not critical


def test_metrics_count_files_standings_and_scan_duration(app, corpus):
    with app.app_context():
        service(app).scan()
        counts = service(app).counts()
    text = app.test_client().get("/metrics").get_data(as_text=True)
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert found[("soulspot_collection_files", ())] == len(corpus.files) + 1
    assert found[("soulspot_collection_unreadable_files", ())] == 1
    for status, n in counts.items():
        assert found[("soulspot_collection_tracks", (("status", status),))] == n
    assert found[("soulspot_collection_scan_duration_seconds", ())] > 0


def test_the_page_says_what_to_configure(make_app, tmp_path):
    app = make_app(only=WITH_HEALTH, plugins=[("vault", VaultPlugin(vault_of([])))])
    client = app.test_client()
    assert "set <code>[plugins.collection] music_dirs</code>" in client.get("/collection").get_data(
        as_text=True
    )
    assert client.post("/api/collection/scan", json={}).status_code == 409
