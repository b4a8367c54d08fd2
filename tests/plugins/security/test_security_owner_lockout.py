"""Issue 15, item 1: rate limits must not lock the owner out.

The attack: anything that can send requests from the owner's address (a local program, a
web page making image requests to 127.0.0.1, a client behind the same NAT or proxy)
empties the ``/auth/*`` and ``/api/*`` buckets. Before, they were per IP, so the owner then
got 429 on sign-out and on "revoke", and the session stayed alive. Now signed-in requests
spend a bucket of their session, anonymous ones a bucket of their client, ending or revoking
a valid session is never refused by a limit, and sign-in start and callback have limits of
their own."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from soulspot.testing import SAME_ORIGIN, signed_in_client

LIMITS = {
    "rate_limit_auth": "3/minute",
    "rate_limit_api": "4/minute",
    "rate_limit_sign_in": "2/minute",
    "rate_limit_sign_in_callback": "2/minute",
    "refused_per_window": 1000,  # the flood below is not about refusals
}


def _app(make_app: Any, **extra: Any) -> Flask:
    return make_app({"plugins": {"security": {**LIMITS, **extra}}})


def _exhaust(client: FlaskClient, method: str, path: str, **kwargs: Any) -> int:
    """Send until the answer is 429; how many went through before."""
    for sent in range(50):
        if client.open(path, method=method, **kwargs).status_code == 429:
            return sent
    raise AssertionError(f"{method} {path} was never limited")


def _attacker(app: Flask) -> FlaskClient:
    """A client at the owner's address (127.0.0.1) without the owner's cookie."""
    client = app.test_client()
    client.environ_base.update({"HTTP_SEC_FETCH_SITE": "same-origin"})
    return client


def test_an_anonymous_flood_from_the_owners_address_cannot_lock_the_owner_out(
    make_app: Any,
) -> None:
    app = _app(make_app)
    laptop, phone, tablet = (signed_in_client(app, "owner") for _ in range(3))
    attacker = _attacker(app)
    # the attacker empties both shared buckets of 127.0.0.1, and the anonymous sign-out
    assert _exhaust(attacker, "GET", "/auth/signed-out") == 3
    assert _exhaust(attacker, "GET", "/api/plugins") == 4
    assert attacker.post("/auth/logout", headers=SAME_ORIGIN).status_code == 429
    # a made-up cookie is no session: still the client's (empty) bucket
    attacker.set_cookie("soulspot_session", "x" * 43)
    assert attacker.post("/auth/logout").status_code == 429

    # the owner, same address, is counted in the bucket of their session
    assert laptop.get("/api/auth/status").status_code == 200
    assert laptop.get("/auth/sessions").status_code == 200
    # ... which is limited too, on its own
    assert _exhaust(laptop, "GET", "/api/auth/status") == 3
    assert _exhaust(laptop, "GET", "/auth/sessions") == 2
    assert phone.get("/api/auth/status").status_code == 200  # another session, another bucket

    # with every bucket of the laptop spent, ending sessions still works
    phone_id = _session_id(app, phone)
    revoked = laptop.post("/auth/sessions/revoke", data={"session": phone_id})
    assert revoked.status_code == 302, revoked.get_data(as_text=True)
    assert _signed_out(phone)
    everywhere = laptop.post("/auth/sessions/revoke-all")
    assert everywhere.status_code == 302
    assert _signed_out(laptop) and _signed_out(tablet)

    # and sign-out, with the session's own bucket spent
    last = signed_in_client(app, "owner")
    assert _exhaust(last, "GET", "/auth/sessions") == 3
    assert last.post("/auth/logout").status_code == 302
    assert _signed_out(last)


def _signed_out(client: FlaskClient) -> bool:
    """Asked from another address (127.0.0.1's anonymous budget is spent): no session."""
    answer = client.get("/api/auth/status", environ_base={"REMOTE_ADDR": "192.0.2.9"})
    return answer.status_code == 401


def _session_id(app: Flask, client: FlaskClient) -> str:
    import hashlib

    cookie = client.get_cookie("soulspot_session")
    assert cookie is not None
    return hashlib.sha256(cookie.value.encode()).hexdigest()


def test_sign_in_start_and_callback_have_limits_of_their_own(make_app: Any) -> None:
    app = _app(make_app)
    attacker = _attacker(app)
    assert _exhaust(attacker, "GET", "/auth/signed-out") == 3  # the shared /auth bucket
    # not spent by the flood above, and not by each other
    assert _exhaust(attacker, "GET", "/auth/login") == 2
    assert _exhaust(attacker, "GET", "/auth/callback?state=x&code=y") == 2
    # per client: another address starts afresh
    other = {"REMOTE_ADDR": "192.0.2.7"}
    assert app.test_client().get("/auth/login", environ_base=other).status_code != 429


def test_api_tokens_spend_the_bucket_of_their_token(make_app: Any) -> None:
    """Consistent with sessions: a token request is counted per token, so an anonymous
    flood from the script's address does not stop the script."""
    from soulspot_security import api_tokens

    app = _app(make_app)
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection():
        _info, token = api_tokens.create("script", "read", user_id="owner")
    attacker = _attacker(app)
    assert _exhaust(attacker, "GET", "/api/plugins") == 4
    bearer = {"Authorization": f"Bearer {token}"}
    assert _exhaust(app.test_client(), "GET", "/api/plugins", headers=bearer) == 4


def test_the_documented_settings_are_accepted(make_app: Any) -> None:
    import re
    import tomllib
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "security.md").read_text()
    section = text[text.index("## Rate limits\n") : text.index("\n## CORS")]
    (block,) = re.findall(r"```toml\n(.*?)```", section, re.S)
    settings = tomllib.loads(block)["plugins"]["security"]
    assert settings["rate_limit_sign_in"] == "5/minute"
    attacker = _attacker(make_app({"plugins": {"security": settings}}))
    assert _exhaust(attacker, "GET", "/auth/login") == 5
