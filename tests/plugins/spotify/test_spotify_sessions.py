"""Server-side sessions: timeouts, last-seen throttling, sign-out, the Sessions page, purge."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable

from flask import Flask
from spotify_support import Browser, audit_events, in_app

from soulspot import api
from soulspot.testing import run_jobs
from support.oauth_provider import LocalOAuthProvider


def _sid(browser: Browser) -> str:
    cookie = browser.cookie()
    assert cookie
    return hashlib.sha256(cookie.encode()).hexdigest()


def _record(app: Flask, sid: str) -> object:
    return in_app(app, lambda: api.storage().sessions.get(sid))


def _rewrite(app: Flask, sid: str, **changes: object) -> None:
    """Age a session in the store (what time would do)."""

    def work() -> None:
        store = api.storage().sessions
        record = store.get(sid)
        assert record is not None
        store.delete(sid)
        store.create(dataclasses.replace(record, **changes))  # type: ignore[arg-type]

    in_app(app, work)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_the_store_keeps_a_hash_of_the_cookie_not_the_cookie(app: Flask, browser: Browser) -> None:
    browser.sign_in()
    cookie = browser.cookie()
    assert cookie
    assert _record(app, cookie) is None
    record = _record(app, _sid(browser))
    assert record is not None
    assert record.user_id == "alice"  # type: ignore[attr-defined]
    assert record.user_agent == "TestBrowser/1.0"  # type: ignore[attr-defined]
    assert record.ip == "127.0.0.1"  # type: ignore[attr-defined]


def test_idle_timeout_ends_a_session(spotify_app: Callable[..., Flask]) -> None:
    app = spotify_app({"session_idle_minutes": 30})
    browser = Browser(app)
    browser.sign_in()
    sid = _sid(browser)
    _rewrite(app, sid, last_seen=_now() - dt.timedelta(minutes=29))
    assert browser.get("/").status_code == 200  # still inside the idle window
    _rewrite(app, sid, last_seen=_now() - dt.timedelta(minutes=31))
    assert browser.get("/").status_code == 302
    assert _record(app, sid) is None  # and it is gone from the store


def test_absolute_lifetime_ends_a_session_however_busy(spotify_app: Callable[..., Flask]) -> None:
    app = spotify_app({"session_lifetime_hours": 1})
    browser = Browser(app)
    cookie = next(
        c for c in browser.sign_in().headers.getlist("Set-Cookie") if "soulspot_session=" in c
    )
    assert "Max-Age=3600" in cookie
    sid = _sid(browser)
    record = _record(app, sid)
    assert record is not None
    lifetime = record.expires_at - record.created_at  # type: ignore[attr-defined]
    assert lifetime == dt.timedelta(hours=1)
    _rewrite(app, sid, expires_at=_now() - dt.timedelta(seconds=1), last_seen=_now())
    assert browser.get("/").status_code == 302
    assert _record(app, sid) is None


def test_last_seen_is_written_at_most_once_a_minute(app: Flask, browser: Browser) -> None:
    browser.sign_in()
    sid = _sid(browser)
    first = _record(app, sid).last_seen  # type: ignore[union-attr]
    browser.get("/")
    assert _record(app, sid).last_seen == first  # type: ignore[union-attr]
    older = _now() - dt.timedelta(seconds=61)
    _rewrite(app, sid, last_seen=older)
    browser.get("/")
    seen = _record(app, sid).last_seen  # type: ignore[union-attr]
    assert seen > older + dt.timedelta(seconds=30)
    browser.get("/")
    assert _record(app, sid).last_seen == seen  # type: ignore[union-attr]


def test_logout_invalidates_the_session_server_side(app: Flask, browser: Browser) -> None:
    browser.sign_in()
    cookie = browser.cookie()
    assert cookie
    sid = _sid(browser)
    resp = browser.post("/auth/logout", {"csrf_token": browser.csrf_token()})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/auth/signed-out"
    assert _record(app, sid) is None
    replay = Browser(app)
    replay.set_cookie(cookie)  # someone kept a copy of the cookie
    assert replay.get("/").status_code == 302
    assert replay.get("/auth/sessions", headers={"Accept": "application/json"}).status_code == 401
    assert browser.get("/auth/signed-out").status_code == 200
    # tokens stay: signing out of a browser does not disconnect Spotify
    status = in_app(app, lambda: api.state_for("soulspot_spotify", app).tokens.status("alice"))
    assert status.connected


def test_logout_form_needs_its_csrf_token(app: Flask, browser: Browser) -> None:
    browser.sign_in()
    # a client sending neither Origin nor Sec-Fetch-Site must carry the page's token
    bare = browser.client.post("/auth/logout", base_url=browser.base, data={})
    assert bare.status_code == 403
    assert browser.get("/").status_code == 200
    token = browser.csrf_token()
    ok = browser.client.post("/auth/logout", base_url=browser.base, data={"csrf_token": token})
    assert ok.status_code == 302
    assert browser.get("/").status_code == 302


def test_sessions_page_revoke_one_and_sign_out_everywhere(
    app: Flask, provider: LocalOAuthProvider
) -> None:
    laptop, phone = Browser(app), Browser(app)
    laptop.sign_in()
    phone.sign_in()
    page = laptop.get("/auth/sessions").get_data(as_text=True)
    assert page.count('name="session"') == 2
    assert "(this browser)" in page
    assert 'aria-current="true"' in page

    revoked = laptop.post(
        "/auth/sessions/revoke", {"csrf_token": laptop.csrf_token(), "session": _sid(phone)}
    )
    assert revoked.status_code == 302
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 200
    (revoke_event,) = audit_events(app, "auth.session_revoked")
    assert revoke_event.details["own"] is False
    assert revoke_event.ip == "127.0.0.1" and revoke_event.user_agent == "TestBrowser/1.0"
    assert revoke_event.request_id and revoke_event.actor == "alice"

    phone.sign_in()
    everywhere = laptop.post("/auth/sessions/revoke-all", {"csrf_token": laptop.csrf_token()})
    assert everywhere.headers["Location"] == "/auth/signed-out"
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 302
    (event,) = audit_events(app, "auth.sessions_revoked_all")
    assert event.details["count"] == 2 and event.ip == "127.0.0.1" and event.request_id


def test_revoke_rejects_bad_input(app: Flask, browser: Browser) -> None:
    browser.sign_in()
    bad = browser.post("/auth/sessions/revoke", {"session": "not-a-session"})
    assert bad.status_code == 422
    unknown = browser.post("/auth/sessions/revoke", {"session": "0" * 64})
    assert unknown.status_code == 404


def test_purge_job_removes_expired_and_idle_sessions(app: Flask) -> None:
    old, idle, live = Browser(app), Browser(app), Browser(app)
    for b in (old, idle, live):
        b.sign_in()
    _rewrite(app, _sid(old), expires_at=_now() - dt.timedelta(seconds=5))
    _rewrite(app, _sid(idle), last_seen=_now() - dt.timedelta(days=8))
    run_jobs(app, "spotify.purge_sessions")
    assert _record(app, _sid(old)) is None
    assert _record(app, _sid(idle)) is None
    assert _record(app, _sid(live)) is not None


def test_sessions_active_gauge(app: Flask) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from soulspot_spotify import plugin

    (gauge,) = plugin.metrics(app)
    registry = CollectorRegistry()
    registry.register(gauge)
    assert b"soulspot_sessions_active 0.0" in generate_latest(registry)
    Browser(app).sign_in()
    Browser(app).sign_in()
    assert b"soulspot_sessions_active 2.0" in generate_latest(registry)


def test_nav_shows_sessions_and_a_sign_out_button(browser: Browser) -> None:
    browser.sign_in()
    page = browser.get("/").get_data(as_text=True)
    assert 'href="/auth/sessions"' in page
    assert 'action="/auth/logout"' in page
