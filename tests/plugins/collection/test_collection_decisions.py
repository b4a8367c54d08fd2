"""Owner decisions stick across scans and syncs; only what changed is rematched."""

from __future__ import annotations

import datetime as dt

import pytest
from collection_support import ONLY, ListVault, VaultPlugin, config, vault_track
from tests.support.audio_files import Tags, write_audio
from tests.support.collection_corpus import CorpusTrack

from soulspot import api
from soulspot.vault import SyncChanges
from soulspot_collection.service import service

SONGS = [
    CorpusTrack("A" * 22, "Hyperballad", ("Björk",), "Post", 321_000),
    CorpusTrack("B" * 22, "Isobel", ("Björk",), "Post", 348_000),
    CorpusTrack("C" * 22, "Jóga - Remastered 2011", ("Björk",), "Homogenic", 305_000),
    CorpusTrack("D" * 22, "Army of Me", ("Björk",), "Post", 234_000),
]


@pytest.fixture
def setup(make_app, tmp_path):
    music = tmp_path / "music"
    write_audio(music / "bjork" / "01.flac", Tags("Hyperballad", "Bjork", "Post"), 321.5)
    write_audio(music / "bjork" / "02.mp3", Tags("Isobel", "Björk", "Post"), 349)
    # a doubtful one: same words, duration far off (an edit?) -> review
    write_audio(music / "bjork" / "03.ogg", Tags("Joga", "Björk", "Live"), 280)
    write_audio(music / "other" / "x.opus", Tags("Something Else", "Nobody"), 200)
    vault = ListVault()
    for song in SONGS:
        vault.known[song.id] = vault_track(song)
    vault.liked_ids = [s.id for s in SONGS]
    vault.lists["p1"] = ("Björk mix", [SONGS[0].id, SONGS[2].id, SONGS[3].id])
    app = make_app(config(music), only=ONLY, plugins=[("vault", VaultPlugin(vault))])
    with app.app_context():
        service(app).scan()
    return app, music, vault


def standing(app):
    with app.app_context():
        return {k: v[0] for k, v in service(app).standing().items()}


def fire_sync(app, track_ids):
    changes = SyncChanges("run-1", dt.datetime.now(dt.UTC), frozenset(track_ids), frozenset(), True)
    with app.app_context():
        api.hook(app).library_synced(app=app, changes=changes)


def test_each_track_ends_matched_review_or_missing(setup):
    app, _music, _vault = setup
    assert standing(app) == {
        SONGS[0].id: "matched",
        SONGS[1].id: "matched",
        SONGS[2].id: "review",
        SONGS[3].id: "missing",
    }
    review = app.test_client().get("/api/collection/review").get_json()
    (item,) = review["items"]
    assert item["id"] == SONGS[2].id
    assert item["candidates"][0]["file"]["path"].endswith("03.ogg")
    assert 65 <= item["candidates"][0]["score"] < 100


def test_decisions_are_kept_across_scans_and_syncs(setup):
    app, _music, _vault = setup
    client = app.test_client()
    review = client.get("/api/collection/review").get_json()["items"][0]
    file_id = review["candidates"][0]["file"]["id"]
    answer = client.post(
        "/api/collection/decisions",
        json={"track_id": SONGS[2].id, "decision": "accept", "file_id": file_id},
    )
    assert answer.status_code == 200 and answer.get_json()["status"] == "matched"
    # the owner rejects an automatic match and does not want the missing one
    isobel = client.get("/api/collection/status").get_json()
    assert isobel["tracks"]["matched"] == 3
    with app.app_context():
        isobel_file = service(app).standing()[SONGS[1].id][1]
    client.post(
        "/api/collection/decisions",
        json={"track_id": SONGS[1].id, "decision": "reject", "file_id": isobel_file},
    )
    client.post(
        "/api/collection/decisions", json={"track_id": SONGS[3].id, "decision": "not_wanted"}
    )
    decided = standing(app)
    assert decided[SONGS[1].id] in ("missing", "review")
    assert decided[SONGS[2].id] == "matched" and decided[SONGS[3].id] == "not_wanted"

    with app.app_context():
        service(app).scan(full=True)
    fire_sync(app, [s.id for s in SONGS])
    with app.app_context():
        service(app).rematch_all()
    assert standing(app) == decided

    # a decision is audited with who, what and which file
    with app.app_context():
        events = api.storage().audit.query(event="collection.decision")
    assert {e.details["decision"] for e in events} == {"accept", "reject", "not_wanted"}

    # clearing gives the track back to the matcher
    assert (
        client.delete(f"/api/collection/decisions/{SONGS[3].id}").get_json()["status"] == "missing"
    )


def test_bad_decisions_are_refused_with_a_reason(setup):
    app, _music, _vault = setup
    client = app.test_client()
    unknown_file = client.post(
        "/api/collection/decisions",
        json={"track_id": SONGS[0].id, "decision": "choose", "file_id": 9999},
    )
    assert unknown_file.status_code == 404 and "9999" in unknown_file.get_json()["detail"]
    unknown_track = client.post(
        "/api/collection/decisions", json={"track_id": "nope", "decision": "not_wanted"}
    )
    assert unknown_track.status_code == 404
    no_file = client.post(
        "/api/collection/decisions", json={"track_id": SONGS[0].id, "decision": "accept"}
    )
    assert no_file.status_code == 409 and "needs a file" in no_file.get_json()["detail"]
    bad_kind = client.post(
        "/api/collection/decisions", json={"track_id": SONGS[0].id, "decision": "maybe"}
    )
    assert bad_kind.status_code == 422 and bad_kind.mimetype == "application/problem+json"


def test_only_what_changed_is_rematched(setup):
    app, music, vault = setup
    with app.app_context():
        quiet = service(app).scan()
    assert quiet.rematch.tracks == 0  # nothing changed on disk
    write_audio(music / "bjork" / "04.m4a", Tags("Army of Me", "Björk", "Post"), 234)
    with app.app_context():
        after = service(app).scan()
    assert after.rematch.tracks == 4  # every Björk track shares the artist word with the file
    assert standing(app)[SONGS[3].id] == "matched"

    new = CorpusTrack("E" * 22, "Something Else", ("Nobody",), "", 200_000)
    vault.known[new.id] = vault_track(new)
    fire_sync(app, [new.id])
    assert standing(app)[new.id] == "matched"
    with app.app_context():
        summary = service(app).on_synced(
            SyncChanges(
                "run-2", dt.datetime.now(dt.UTC), frozenset({SONGS[0].id}), frozenset(), False
            )
        )
    assert summary.tracks == 1
