"""Spotify misbehaving: rate limits (with, without and with a day-long Retry-After), 5xx,
an access token expiring mid-run, malformed answers and a list cut short. The vault records
only what was read whole, and says why a run stopped."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from library_support import Owner, in_app, sync, vault

from support.spotify_webapi import SpotifyWebAPI


def _liked_ids(app: Flask) -> list[str]:
    return in_app(app, lambda: [t.track.id for t in vault(app).liked()])


def test_a_429_is_waited_out_as_spotify_asks(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    webapi.rate_limit("/v1/me/tracks", times=1, retry_after=3)
    webapi.rate_limit("/v1/me/albums", times=1, retry_after=None)
    outcome = sync(app)
    assert outcome.status == "ok", outcome.message
    assert outcome.slept == [3.0, 0.01]  # Retry-After; no header: the configured backoff
    assert webapi.count("/v1/me/tracks", status=429) == 1
    assert len(_liked_ids(app)) == len(webapi.library("alice").liked)


def test_a_long_retry_after_pauses_the_run_and_the_next_run_resumes(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    webapi.rate_limit("/v1/me/tracks", times=1, retry_after=86400)
    outcome = sync(app)
    assert outcome.status == "paused"
    assert outcome.message.startswith("paused by Spotify until ")
    assert outcome.slept == []
    assert _liked_ids(app) == []  # nothing taken from the step that was cut
    playlists = in_app(app, lambda: vault(app).playlists())
    assert len(playlists) == len(webapi.library("alice").playlists)  # earlier steps kept
    page = owner.get("/library").get_data(as_text=True)
    assert "Paused by Spotify until" in page
    again = sync(app)
    assert again.status == "ok", again.message
    assert len(_liked_ids(app)) == len(webapi.library("alice").liked)


def test_server_errors_are_retried_with_a_bound(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    webapi.fail("/v1/me/albums", status=503, times=2)
    outcome = sync(app)
    assert outcome.status == "ok", outcome.message
    assert outcome.slept == [0.01, 0.02]
    webapi.fail("/v1/me/albums", status=500, times=50)
    outcome = sync(app, full=True)
    assert outcome.status == "failed"
    assert "GET /me/albums: Spotify answered HTTP 500 5 times in a row" in outcome.message
    assert webapi.count("/v1/me/albums", status=500) == 5  # 1 + server_error_retries (4)
    albums = in_app(app, lambda: __import__("soulspot_library.queries").queries.counts())
    assert albums["albums"] == len(webapi.library("alice").albums)  # nothing lost


def test_an_access_token_expiring_mid_run_is_refreshed(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI, provider: Any
) -> None:
    calls = {"n": 0}

    def expire(data: Any) -> Any:
        calls["n"] += 1
        webapi.expire_tokens_now()
        return data

    webapi.malform("/v1/me/playlists", mutate=expire)  # after the first answer: expired
    outcome = sync(app)
    assert outcome.status == "ok", outcome.message
    assert calls["n"] == 1
    assert webapi.count(status=401) == 1
    assert provider.calls["token:refresh_token"] == 1


@pytest.mark.parametrize(
    ("glob", "mutate", "message"),
    [
        (
            "/v1/me/tracks",
            lambda d: {**d, "items": [{**d["items"][0], "added_at": None}, *d["items"][1:]]},
            "GET /me/tracks: items[0].added_at is null, expected a string",
        ),
        (
            "/v1/me/tracks",
            lambda d: {k: v for k, v in d.items() if k != "total"},
            "GET /me/tracks: total is missing",
        ),
        (
            "/v1/me/tracks",
            lambda d: {
                **d,
                "items": [
                    {**d["items"][0], "track": {**d["items"][0]["track"], "name": 5}},
                    *d["items"][1:],
                ],
            },
            "GET /me/tracks: items[0].track.name is a number, expected a string",
        ),
    ],
)
def test_a_malformed_answer_fails_its_step_with_endpoint_and_field(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI, glob: str, mutate: Any, message: str
) -> None:
    webapi.malform(glob, mutate=mutate)
    outcome = sync(app)
    assert outcome.status == "failed"
    assert message in outcome.message
    assert _liked_ids(app) == []
    assert in_app(app, lambda: len(vault(app).playlists())) > 0  # other steps went on


def test_a_list_cut_short_is_never_taken_as_removals(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    sync(app)
    before = _liked_ids(app)
    assert len(before) > 50

    def cut(data: Any) -> Any:
        return {**data, "next": None}  # the second page never comes

    webapi.malform("/v1/me/tracks", mutate=cut)
    outcome = sync(app, full=True)
    assert outcome.status == "failed"
    assert "GET /me/tracks: read 50 items of" in outcome.message
    assert _liked_ids(app) == before


def test_one_run_at_a_time(app: Flask, owner: Owner, webapi: SpotifyWebAPI) -> None:
    from soulspot_library.runner import SyncRefused, run_lock

    with app.app_context(), run_lock():
        with pytest.raises(SyncRefused, match="already running"):
            sync(app)
        resp = owner.post("/library/sync", {"csrf_token": owner.csrf()})
        assert resp.status_code == 302
        assert "A library sync is already running." in owner.get("/library").get_data(as_text=True)


def test_fewer_scopes_ask_to_reauthorise(
    library_app: Any, provider: Any, webapi: SpotifyWebAPI
) -> None:
    provider.granted_scopes = ["user-library-read", "playlist-read-private"]
    app = library_app()
    person = Owner(app)
    person.sign_in()
    webapi.reset_log()
    page = person.get("/library")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "re-authorise to read your library" in text
    assert "Re-authorise with Spotify" in text and "/auth/login" in text
    from soulspot_library.runner import SyncRefused

    with pytest.raises(SyncRefused, match="re-authorise to read your library"):
        sync(app)
    assert webapi.count() == 0
