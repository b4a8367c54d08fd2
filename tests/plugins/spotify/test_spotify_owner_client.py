"""The auth contract's owner client (``soulspot.api.owner_client()``): token attached, refreshed
single-flight before expiry, one refresh-and-retry on 401, ``invalid_grant`` turned into
``ReauthorizationRequired`` with the tokens purged; other answers are the caller's to judge."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask
from spotify_support import Browser, audit_events, in_app

from soulspot import api
from soulspot.auth import OwnerClient, ReauthorizationRequired
from support.oauth_provider import LocalOAuthProvider


def _expire_locally(app: Flask) -> None:
    from soulspot_spotify.models import SpotifyToken

    in_app(
        app,
        lambda: (
            SpotifyToken.update(expires_at=time.time() - 1)
            .where(SpotifyToken.user_id == "alice")
            .execute()
        ),
    )


def _get(app: Flask, path: str = "/me") -> Any:
    def work() -> Any:
        client = api.owner_client()
        assert client is not None
        return client.get(path)

    return in_app(app, work)


def test_nobody_signed_in_means_no_client(app: Flask) -> None:
    assert in_app(app, api.owner_client) is None


def test_the_client_calls_the_api_as_the_owner(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    browser.sign_in()
    client = in_app(app, api.owner_client)
    assert isinstance(client, OwnerClient)
    assert client.base_url == provider.api_base_url
    assert client.user_id == "alice"
    assert client.granted_scopes == {
        "user-library-read",
        "playlist-read-private",
        "playlist-read-collaborative",
        "user-follow-read",
    }
    resp = _get(app)
    assert resp.status_code == 200 and resp.json()["id"] == "alice"
    assert provider.calls["token:refresh_token"] == 0
    assert "AT" not in repr(client)


def test_a_full_url_elsewhere_is_refused(app: Flask, browser: Browser) -> None:
    browser.sign_in()
    with pytest.raises(ValueError, match="is not under"):
        _get(app, "https://evil.example/v1/me")


def test_an_expiring_token_is_refreshed_once_for_many_threads(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    browser.sign_in()
    _expire_locally(app)
    statuses: list[int] = []

    def call() -> None:
        statuses.append(_get(app).status_code)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert statuses == [200] * 4
    assert provider.calls["token:refresh_token"] == 1


def test_a_401_refreshes_once_and_retries(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    browser.sign_in()
    provider.expire_access_tokens()  # the provider refuses the token we still think is fresh
    resp = _get(app)
    assert resp.status_code == 200
    assert provider.calls["token:refresh_token"] == 1


def test_invalid_grant_asks_for_a_new_sign_in(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    browser.sign_in()
    provider.refresh_tokens_expired = True
    _expire_locally(app)
    with pytest.raises(ReauthorizationRequired, match="sign in with Spotify again"):
        _get(app)
    assert [e.details["reason"] for e in audit_events(app, "auth.tokens_purged")] == [
        "invalid_grant"
    ]
    with pytest.raises(ReauthorizationRequired):
        _get(app)  # purged: no second refresh attempt
    assert provider.calls["token:refresh_token"] == 1
