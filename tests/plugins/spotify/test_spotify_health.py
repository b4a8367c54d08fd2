"""The ``spotify`` health check: warns (unconfigured, provider down, re-authorisation
needed), never fails readiness, asks the provider at most once a minute."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from flask import Flask
from spotify_support import Browser

from soulspot import api
from support.oauth_provider import LocalOAuthProvider

#: Health results are not cached by the runner: every call runs the check.
NO_CACHE = {"plugins": {"observability": {"health_cache_seconds": 0}}}


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there any more


def _spotify(app: Flask) -> dict[str, Any]:
    body = app.test_client().get("/health", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json()
    checks = {c["name"]: c for c in body["checks"]}
    return dict(checks["spotify"])


def _ready(app: Flask) -> int:
    return app.test_client().get("/health/ready").status_code


def test_unconfigured_is_a_warning_not_a_readiness_failure(
    spotify_app: Callable[..., Flask],
) -> None:
    app = spotify_app({"client_id": ""}, config=NO_CACHE)
    check = _spotify(app)
    assert check["status"] == "warn"
    assert check["critical"] is False
    assert "/auth/setup" in check["message"]
    assert _ready(app) == 200


def test_provider_up_is_ok(spotify_app: Callable[..., Flask]) -> None:
    app = spotify_app(config=NO_CACHE)
    check = _spotify(app)
    assert check["status"] == "ok", check
    assert check["details"] == {"configured": True, "reachable": True, "accounts": []}


def test_provider_down_warns_and_readiness_stays_200(
    spotify_app: Callable[..., Flask],
) -> None:
    app = spotify_app({"api_base_url": _dead_url()}, config=NO_CACHE)
    check = _spotify(app)
    assert check["status"] == "warn"
    assert "cannot be reached" in check["message"]
    assert check["details"]["reachable"] is False
    ready = app.test_client().get("/health/ready")
    assert ready.status_code == 200
    assert "spotify" not in ready.get_json()["checks"]  # not a readiness check at all


def test_the_provider_is_asked_at_most_once_a_minute(
    spotify_app: Callable[..., Flask], provider: LocalOAuthProvider
) -> None:
    app = spotify_app(config=NO_CACHE)
    assert _spotify(app)["status"] == "ok"
    provider.stop()  # down now, but the answer of a moment ago still counts
    assert _spotify(app)["status"] == "ok"


def test_re_authorisation_needed_warns_and_the_dashboard_shows_it(
    spotify_app: Callable[..., Flask],
) -> None:

    app = spotify_app(config=NO_CACHE)
    browser = Browser(app)
    assert browser.sign_in().status_code in (302, 303)
    with app.app_context(), api.storage().connection():
        rt = api.state_for("soulspot_spotify", app)
        (user_id,) = [row.user_id for row in _token_rows()]
        assert rt.tokens.purge(user_id, "invalid_grant")
    check = _spotify(app)
    assert check["status"] == "warn"
    assert "re-authorisation" in check["message"]
    assert check["details"]["accounts"][0]["reason"] == "invalid_grant"
    assert "access_token" not in str(check)
    assert _ready(app) == 200
    page = browser.get("/").get_data(as_text=True)
    assert '<span class="status-warn">spotify</span>: re-authorisation needed' in page


def _token_rows() -> list[Any]:
    from soulspot_spotify.models import SpotifyToken

    return list(SpotifyToken.select())
