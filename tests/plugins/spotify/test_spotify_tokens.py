"""Tokens: encrypted at rest, refreshed before expiry and on 401, single-flight, purged on
invalid_grant, never in the database file or the logs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from spotify_support import Browser, audit_events, db_files, in_app

from soulspot import api
from support.oauth_provider import LocalOAuthProvider


def _rt(app: Flask) -> Any:
    return api.state_for("soulspot_spotify", app)


def _expire_locally(app: Flask, user_id: str = "alice") -> None:
    from soulspot_spotify.models import SpotifyToken

    def work() -> None:
        SpotifyToken.update(expires_at=time.time() - 1).where(
            SpotifyToken.user_id == user_id
        ).execute()

    in_app(app, work)


def _me(app: Flask) -> Any:
    from soulspot_spotify.tokens import SpotifyClient

    return in_app(app, lambda: SpotifyClient(_rt(app)).get("/me", "alice"))


def test_tokens_are_encrypted_at_rest(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    from soulspot_spotify.models import SpotifyToken

    browser.sign_in()
    row = in_app(app, lambda: SpotifyToken.get(SpotifyToken.user_id == "alice"))
    issued = provider.issued_tokens()
    assert len(issued) == 2
    assert row.access_token not in issued and row.refresh_token not in issued
    assert row.access_token.startswith("gAAAAA")  # a Fernet token
    plain = in_app(app, lambda: _rt(app).keyring.decrypt(row.access_token))
    assert plain in issued
    blob = db_files(app)
    for token in issued:
        assert token.encode() not in blob
    key_file = app.extensions["soulspot"].data_dir / "keys" / "spotify_token_keys"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_refresh_before_expiry_keeps_the_old_refresh_token(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    browser.sign_in()
    assert _me(app)["id"] == "alice"
    assert provider.calls["token:refresh_token"] == 0
    _expire_locally(app)
    assert _me(app)["id"] == "alice"
    assert provider.calls["token:refresh_token"] == 1
    # the provider does not rotate: no new refresh token, the old one is kept and still works
    _expire_locally(app)
    assert _me(app)["id"] == "alice"
    assert provider.calls["token:refresh_token"] == 2
    first_refresh = provider.token_requests[1]["refresh_token"]
    assert provider.token_requests[2]["refresh_token"] == first_refresh


def test_refresh_with_rotation_stores_the_new_refresh_token(
    spotify_app: Callable[..., Flask], provider: LocalOAuthProvider
) -> None:
    provider.rotate_refresh_tokens = True
    app = spotify_app()
    Browser(app).sign_in()
    _expire_locally(app)
    _me(app)
    _expire_locally(app)
    _me(app)  # would be invalid_grant if the rotated-out token were reused
    used = [r["refresh_token"] for r in provider.token_requests if "refresh_token" in r]
    assert len(used) == 2 and used[0] != used[1]


def test_a_401_refreshes_once_and_retries(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    browser.sign_in()
    provider.expire_access_tokens()  # the provider says no, our clock says fine
    assert _me(app)["id"] == "alice"
    assert provider.calls["token:refresh_token"] == 1
    assert provider.calls["me"] == 3  # sign-in, the 401, the retry


def test_refresh_race_of_8_threads_calls_the_token_endpoint_once(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    browser.sign_in()
    _expire_locally(app)
    barrier = threading.Barrier(8)
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context(), api.storage().connection():
                barrier.wait(timeout=10)
                results.append(_rt(app).tokens.access_token("alice"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert len(results) == 8 and len(set(results)) == 1
    assert provider.calls["token:refresh_token"] == 1


def test_invalid_grant_purges_tokens_and_asks_to_reauthorise(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    from soulspot_spotify.models import SpotifyToken
    from soulspot_spotify.tokens import NotConnected

    browser.sign_in()
    provider.refresh_tokens_expired = True  # six months after the first consent
    _expire_locally(app)
    with pytest.raises(NotConnected):
        _me(app)
    row = in_app(app, lambda: SpotifyToken.get(SpotifyToken.user_id == "alice"))
    assert row.access_token is None and row.refresh_token is None and row.reauth_needed
    (failed,) = audit_events(app, "auth.refresh_failed")
    assert failed.outcome == "failed" and failed.details["error"] == "invalid_grant"
    (purged,) = audit_events(app, "auth.tokens_purged")
    assert purged.details["reason"] == "invalid_grant"
    page = browser.get("/").get_data(as_text=True)
    assert "Re-authorisation needed" in page
    assert "Sign in with Spotify again" in page
    # signing in again reconnects, with a fresh first-consent date
    provider.refresh_tokens_expired = False
    browser.sign_in()
    assert "Spotify connected" in browser.get("/").get_data(as_text=True)


def test_rate_limited_refresh_reports_retry_after(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    from soulspot_spotify.tokens import RateLimited

    browser.sign_in()
    _expire_locally(app)
    provider.rate_limit("token", count=1, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        _me(app)
    assert caught.value.retry_after == 7
    assert _me(app)["id"] == "alice"  # tokens kept: the next try works
    provider.rate_limit("me", count=1, retry_after=3)
    with pytest.raises(RateLimited):
        _me(app)


def test_reauthorise_countdown_from_first_consent(app: Flask, browser: Browser) -> None:
    from soulspot_spotify.models import SpotifyToken

    browser.sign_in()
    assert "Re-authorise within 181 days" in browser.get("/").get_data(as_text=True)

    def age() -> None:
        SpotifyToken.update(consented_at=time.time() - 175 * 86400).execute()

    in_app(app, age)
    browser.sign_in()  # signing in again does not reset Spotify's six-month clock
    page = browser.get("/").get_data(as_text=True)
    assert "Re-authorise within 6 days" in page
    assert "Re-authorise now" in page


def test_disconnect_purges_tokens_and_links_to_spotify_apps(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    from soulspot_spotify.models import SpotifyToken

    browser.sign_in()
    resp = browser.post("/auth/logout", {"csrf_token": browser.csrf_token(), "disconnect": "1"})
    assert resp.status_code == 302
    page = browser.get(resp.headers["Location"]).get_data(as_text=True)
    assert "https://www.spotify.com/account/apps/" in page
    row = in_app(app, lambda: SpotifyToken.get(SpotifyToken.user_id == "alice"))
    assert row.access_token is None and row.refresh_token is None
    assert provider.calls["revoke"] == 0  # Spotify has no revocation endpoint
    (event,) = audit_events(app, "auth.tokens_purged")
    assert event.details["reason"] == "disconnected" and event.ip == "127.0.0.1"


def test_disconnect_revokes_at_an_rfc7009_endpoint_when_configured(
    spotify_app: Callable[..., Flask], provider: LocalOAuthProvider
) -> None:
    provider.revocation_enabled = True
    app = spotify_app({"revocation_url": provider.revocation_url})
    browser = Browser(app)
    browser.sign_in()
    issued = provider.issued_tokens()
    resp = browser.post("/auth/logout", {"csrf_token": browser.csrf_token(), "disconnect": "1"})
    assert "revoked=1" in resp.headers["Location"]
    assert provider.calls["revoke"] == 2
    assert all(provider.by_access[t].access_revoked for t in issued if t in provider.by_access)


def test_no_token_in_the_database_file_or_the_logs(
    spotify_app: Callable[..., Flask],
    provider: LocalOAuthProvider,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    provider.rotate_refresh_tokens = True
    app = spotify_app(config={"kernel": {"log_level": "DEBUG"}})
    browser = Browser(app)
    browser.sign_in()
    _expire_locally(app)
    _me(app)
    provider.expire_access_tokens()
    _me(app)
    browser.post("/auth/logout", {"csrf_token": browser.csrf_token()})
    issued = provider.issued_tokens()
    assert len(issued) >= 4
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert "spotify token refreshed" in logged  # the logs did capture our lines
    verifiers = [r["code_verifier"] for r in provider.token_requests if "code_verifier" in r]
    blob = db_files(app)
    for secret in [*issued, *verifiers]:
        assert secret not in logged
        assert secret.encode() not in blob
    assert logging.getLogger("authlib").getEffectiveLevel() > logging.DEBUG


def test_status_api_and_connection_check(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    assert browser.get("/api/auth/status").status_code == 401
    browser.sign_in()
    status = browser.get("/api/auth/status").get_json()
    assert status["user_id"] == "alice" and status["is_owner"] is True
    assert status["spotify"]["connected"] is True and status["spotify"]["days_left"] == 181
    assert browser.get("/api/auth/status?x=1").status_code == 422

    ok = browser.post("/auth/check", {"csrf_token": browser.csrf_token()})
    assert ok.status_code == 302
    assert "Spotify connection works" in browser.get("/auth/sessions").get_data(as_text=True)

    provider.refresh_tokens_expired = True
    _expire_locally(app)
    browser.post("/auth/check", {"csrf_token": browser.csrf_token()})
    page = browser.get("/auth/sessions").get_data(as_text=True)
    assert "Spotify connection failed" in page and "Re-authorisation needed" in page
    assert browser.get("/api/auth/status").get_json()["spotify"]["reason"] == "invalid_grant"
    # refresh failures and purges in a request carry who, where and which request
    for name in ("auth.refresh_failed", "auth.tokens_purged"):
        (event,) = audit_events(app, name)
        assert event.ip == "127.0.0.1" and event.user_agent == "TestBrowser/1.0"
        assert event.request_id and event.actor == "alice" and event.time


def test_schema_1_matches_the_models() -> None:
    # migration 1 is frozen DDL: it must create exactly what the models describe today
    # (when a model changes, a new migration must carry the change)
    import peewee

    from soulspot_spotify.models import _SCHEMA_1, MODELS

    def tables(db: peewee.SqliteDatabase) -> set[str]:
        rows = db.execute_sql("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
        return {row[0] for row in rows}

    from_models = peewee.SqliteDatabase(":memory:")
    with from_models.bind_ctx(MODELS):
        from_models.create_tables(MODELS)
    frozen = peewee.SqliteDatabase(":memory:")
    for statement in _SCHEMA_1:
        frozen.execute_sql(statement)
    assert tables(frozen) == tables(from_models)
