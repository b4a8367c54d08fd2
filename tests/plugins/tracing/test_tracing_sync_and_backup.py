"""A library sync against the Spotify Web API stand-in, and a backup, as traces: the job,
its steps, every page, every HTTP call and SQL statement in one tree, and no secret."""

from __future__ import annotations

from typing import Any

import requests

from conftest import flush
from soulspot import api
from soulspot.testing import run_jobs
from support.oauth_provider import LocalOAuthProvider
from support.otlp_receiver import OTLPReceiver
from support.spotify_webapi import SpotifyWebAPI, generate_library

BASE = "http://127.0.0.1:8765"


def ancestors(span: Any, spans: list[Any]) -> list[str]:
    index, names = {s.span_id: s for s in spans}, []
    while span.parent_span_id in index:
        span = index[span.parent_span_id]
        names.append(span.name)
    return names


def test_a_scheduled_sync_is_one_trace_of_steps_pages_and_calls(
    traced_app: Any, receiver: OTLPReceiver
) -> None:
    with LocalOAuthProvider(redirect_uris=[BASE + "/auth/callback"]) as provider:
        web = SpotifyWebAPI.attach(provider)
        web.set_library(
            "alice",
            generate_library(
                seed=3,
                playlists=3,
                items=(1, 60),
                liked=70,
                albums=2,
                artists=3,
                foreign_playlists=0,
            ),
        )
        app = traced_app(
            {
                "plugins": {
                    "spotify": provider.client_config(),
                    "security": {"rate_limit_auth": "1000/minute"},
                }
            }
        )
        client = app.test_client()
        start = client.get("/auth/login?next=/", base_url=BASE)
        answer = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
        assert client.get(answer.headers["Location"][len(BASE) :], base_url=BASE).status_code == 302
        web.reset_log()  # the sign-in's own /v1/me is not the sync's
        run_jobs(app, "library.sync")
        tokens = provider.issued_tokens()
    flush(app)
    spans = receiver.spans
    job = next(s for s in spans if s.name == "job library.sync")
    in_job = [s for s in spans if s.trace_id == job.trace_id]
    steps = {s.name for s in in_job if s.name.startswith("library.sync ")}
    assert {
        "library.sync playlists",
        "library.sync playlist",
        "library.sync liked songs",
        "library.sync albums",
        "library.sync artists",
    } <= steps
    pages = [s for s in in_job if s.name == "library.page"]
    assert len(pages) == sum(1 for r in web.requests if r.path.startswith("/v1/"))
    assert all(ancestors(p, spans)[-1] == job.name for p in pages)
    calls = [s for s in in_job if "http.url" in s.attributes or "url.full" in s.attributes]
    assert calls and all(ancestors(c, spans)[0] == "library.page" for c in calls)
    assert any("db.statement" in s.attributes for s in in_job)
    payload = b"".join(receiver.raw)
    assert tokens and not any(token.encode() in payload for token in tokens)


def test_a_backup_made_from_a_request_is_inside_its_trace(
    traced_app: Any, receiver: OTLPReceiver
) -> None:
    app = traced_app()
    with app.app_context(), api.span("manual backup"):
        backup_id = api.take_backup("manual")
    assert backup_id
    flush(app)
    root = next(s for s in receiver.spans if s.name == "manual backup")
    inside = [s for s in receiver.spans if s.trace_id == root.trace_id and s is not root]
    # the snapshot runs on the backup plugin's own thread: its SQL is still in this trace
    assert any("db.statement" in s.attributes for s in inside)
