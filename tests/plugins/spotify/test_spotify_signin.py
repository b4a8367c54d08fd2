"""Sign-in against the local OAuth provider: PKCE, state, owner lock, cookies, audit."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from spotify_support import BASE, Browser, audit_events, in_app

from soulspot import api
from support.oauth_provider import LocalOAuthProvider


def _pending_count(app: Flask) -> int:
    from soulspot_spotify.models import OAuthPending

    return int(in_app(app, lambda: OAuthPending.select().count()))


def _token_row(app: Flask, user_id: str) -> object | None:
    from soulspot_spotify.models import SpotifyToken

    return in_app(app, lambda: SpotifyToken.get_or_none(SpotifyToken.user_id == user_id))


def test_full_sign_in_uses_pkce_s256_and_server_side_state(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    assert browser.get("/").headers["Location"] == "/auth/login?next=/"
    authorize_url = browser.start_sign_in("/plugins")
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    assert authorize_url.startswith(provider.authorize_url)
    assert params["code_challenge_method"] == "S256"
    assert params["client_id"] == "soulspot-test"
    assert params["redirect_uri"] == BASE + "/auth/callback"
    assert params["scope"] == (
        "user-library-read playlist-read-private playlist-read-collaborative user-follow-read"
    )
    assert len(params["state"]) >= 40
    # state and verifier live server-side, not in a cookie the browser can read
    assert _pending_count(app) == 1
    # the only cookie: the sign-in attempt's id (werkzeug's documented get_cookie)
    host = urlsplit(BASE).hostname or "localhost"
    assert browser.client.get_cookie("soulspot_signin", domain=host) is not None
    assert browser.client.get_cookie("soulspot_session", domain=host) is None
    assert browser.client.get_cookie("session", domain=host) is None  # Flask's: unused

    resp = browser.get(browser.authorize(authorize_url))
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/plugins"
    verifier = provider.token_requests[-1]["code_verifier"]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert 43 <= len(verifier) <= 128
    assert provider.token_requests[-1]["client_id"] == "soulspot-test"
    assert "client_secret" not in provider.token_requests[-1]
    assert _pending_count(app) == 0  # single use

    page = browser.get("/plugins")
    assert page.status_code == 200
    assert "Alice Owner" in page.get_data(as_text=True)
    # every outbound call carried our request id
    ids = [h.get("X-Request-Id") for name, h in provider.seen_headers if name != "authorize"]
    assert ids and all(ids), provider.seen_headers


def test_replayed_callback_is_refused_and_audited(app: Flask, browser: Browser) -> None:
    callback = browser.authorize(browser.start_sign_in())
    assert browser.get(callback).status_code == 302
    again = browser.get(callback)
    assert again.status_code == 400
    assert "already used" in again.get_data(as_text=True)
    failed = [e for e in audit_events(app, "auth.sign_in") if e.outcome == "failed"]
    assert [e.details["reason"] for e in failed] == ["unknown_state"]


def test_bad_or_missing_state_and_provider_errors_store_nothing(
    app: Flask, provider: LocalOAuthProvider
) -> None:
    browser = Browser(app)
    assert browser.get("/auth/callback?code=abc").status_code == 400
    assert browser.get("/auth/callback?code=abc&state=forged").status_code == 400
    provider.deny_next = True
    denied = browser.get(browser.authorize(browser.start_sign_in()))
    assert denied.status_code == 400
    assert "access_denied" in denied.get_data(as_text=True)
    # a callback arriving in another browser (no binding cookie) is refused too
    callback = browser.authorize(browser.start_sign_in())
    other = Browser(app)
    assert other.get(callback).status_code == 400
    assert browser.cookie() is None and other.cookie() is None
    assert _token_row(app, "alice") is None
    assert in_app(app, lambda: api.storage().sessions.list_active(api_now())) == []
    reasons = [e.details["reason"] for e in audit_events(app, "auth.sign_in")]
    assert sorted(reasons) == sorted(
        ["missing_state", "unknown_state", "provider_error", "browser_mismatch"]
    )
    assert provider.calls["token:authorization_code"] == 0


def api_now() -> object:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def test_first_account_becomes_owner_and_a_second_account_is_refused(
    app: Flask, provider: LocalOAuthProvider
) -> None:
    assert Browser(app).sign_in().status_code == 302
    provider.next_user = "bob"
    stranger = Browser(app)
    refused = stranger.sign_in()
    assert refused.status_code == 403
    refusal_page = refused.get_data(as_text=True)
    assert "belongs to someone else" in refusal_page
    # no link that leads back into sign-in as the refused account; only "another account"
    assert 'href="/"' not in refusal_page and "switch=1" in refusal_page
    assert stranger.cookie() is None
    assert _token_row(app, "bob") is None
    refusals = [e for e in audit_events(app, "auth.sign_in") if e.outcome == "refused"]
    assert [e.actor for e in refusals] == ["bob"]
    assert stranger.get("/").status_code == 302


def test_configured_owner_and_allowed_users(
    spotify_app: Callable[..., Flask], provider: LocalOAuthProvider
) -> None:
    app = spotify_app({"owner": "carol", "allowed_users": ["bob"]})
    assert Browser(app).sign_in().status_code == 403  # alice is first, but not the owner
    provider.next_user = "bob"
    bob = Browser(app)
    assert bob.sign_in().status_code == 302
    assert bob.get("/").status_code == 200
    provider.next_user = "carol"
    carol = Browser(app)
    assert carol.sign_in().status_code == 302
    assert "(owner)" in carol.get("/").get_data(as_text=True)


def test_localhost_is_redirected_to_the_loopback_ip_before_sign_in(browser: Browser) -> None:
    resp = browser.client.get("/auth/login?next=/x", base_url="http://localhost:8765")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "http://127.0.0.1:8765/auth/login?next=/x"
    gate = browser.client.get("/plugins", base_url="http://localhost:8765")
    assert gate.headers["Location"].startswith("http://127.0.0.1:8765/auth/login")


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "/%09/evil.example", "/%5Cevil.example", "https://evil.example/"],
)
def test_open_redirects_are_not_followed(browser: Browser, target: str) -> None:
    resp = browser.get(browser.authorize(browser.start_sign_in(target)))
    assert resp.headers["Location"] == "/"


def test_a_refused_account_can_retry_with_the_provider_dialog(
    app: Flask, provider: LocalOAuthProvider
) -> None:
    Browser(app).sign_in()
    provider.next_user = "bob"
    stranger = Browser(app)
    page = stranger.sign_in().get_data(as_text=True)
    assert "/auth/login?switch=1" in page
    authorize_url = stranger.start_sign_in("/&switch=1")
    assert "show_dialog=true" in authorize_url


def test_cookie_flags_on_plain_http(browser: Browser) -> None:
    cookies = browser.sign_in().headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("soulspot_session="))
    assert "HttpOnly" in session
    assert "SameSite=Lax" in session
    assert "Secure" not in session
    assert "Path=/" in session


def test_cookie_is_secure_with_host_prefix_behind_https(
    spotify_app: Callable[..., Flask], provider: LocalOAuthProvider
) -> None:
    public = "https://music.example.org"
    provider.client.redirect_uris.append(public + "/auth/callback")
    app = spotify_app(config={"kernel": {"public_url": public}})
    browser = Browser(app, base=public)
    cookies = browser.sign_in().headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("__Host-soulspot_session="))
    assert "Secure" in session and "HttpOnly" in session and "SameSite=Lax" in session
    assert "Domain" not in session
    assert browser.get("/").status_code == 200


def test_a_new_session_id_at_every_sign_in(app: Flask, browser: Browser) -> None:
    browser.sign_in()
    first = browser.cookie()
    browser.sign_in()
    second = browser.cookie()
    assert first and second and first != second
    stale = Browser(app)
    stale.set_cookie(first)
    assert stale.get("/").status_code == 302  # the old session is gone server-side


def test_session_survives_an_app_restart(
    spotify_app: Callable[..., Flask], tmp_path: object
) -> None:
    from pathlib import Path

    data_dir = Path(str(tmp_path)) / "persistent"
    first = spotify_app(data_dir=data_dir)
    browser = Browser(first)
    browser.sign_in()
    cookie = browser.cookie()
    assert cookie

    second = spotify_app(data_dir=data_dir)  # a restart: new app, same data dir
    again = Browser(second)
    again.set_cookie(cookie)
    page = again.get("/")
    assert page.status_code == 200
    assert "Alice Owner" in page.get_data(as_text=True)


def test_every_auth_event_has_time_ip_agent_and_request_id(
    app: Flask, browser: Browser, provider: LocalOAuthProvider
) -> None:
    browser.get("/auth/callback?state=nope&code=x")  # failed
    browser.sign_in()  # ok
    provider.next_user = "bob"
    Browser(app).sign_in()  # refused
    csrf = browser.csrf_token()
    browser.post("/auth/logout", {"csrf_token": csrf})
    events = audit_events(app, "auth.sign_in") + audit_events(app, "auth.sign_out")
    assert {(e.event, e.outcome) for e in events} == {
        ("auth.sign_in", "failed"),
        ("auth.sign_in", "ok"),
        ("auth.sign_in", "refused"),
        ("auth.sign_out", "ok"),
    }
    for event in events:
        assert event.time is not None
        assert event.ip == "127.0.0.1"
        assert event.user_agent == "TestBrowser/1.0"
        assert event.request_id and event.request_id != "-"


def test_callback_after_the_token_key_changed_is_a_clear_400(app: Flask, browser: Browser) -> None:
    from cryptography.fernet import Fernet

    callback = browser.authorize(browser.start_sign_in())
    # the key the pending verifier was sealed with is gone (a restore, an edited key file)
    key_file = app.extensions["soulspot"].data_dir / "keys" / "spotify_token_keys"
    key_file.write_text(Fernet.generate_key().decode() + "\n")
    api.state_for("soulspot_spotify", app).keyring.reload()
    resp = browser.get(callback)
    assert resp.status_code == 400
    assert "can no longer be completed" in resp.get_data(as_text=True)
    failed = [e for e in audit_events(app, "auth.sign_in") if e.outcome == "failed"]
    assert [e.details["reason"] for e in failed] == ["expired_state"]
