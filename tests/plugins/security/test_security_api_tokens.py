"""Personal API tokens (issue 15, "New"): made with ``soulspot tokens`` or on the "API tokens"
page, shown once, stored hashed, scoped, limited per token, write uses audited, exempt from
CSRF, never a fall-back to the cookie session."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, jsonify
from security_support import NO_AUTH

from soulspot import hookimpl
from soulspot.types import PluginManifest

EVIL = {"Origin": "https://evil.example"}


class WritePlugin:
    """A state-changing API route, as plugins write them."""

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: a write route")

    @hookimpl
    def register_blueprints(self, app: Flask) -> list[Blueprint]:
        bp = Blueprint("writes", __name__)

        @bp.post("/api/things")
        def make_thing() -> Any:
            return jsonify(made=True), 201

        return [bp]


def _app(make_app: Any, data_dir: Path, **security: Any) -> Flask:
    """Sign-in on (the spotify plugin): without a token every API call needs a session."""
    config = {"plugins": {"security": security}} if security else None
    return make_app(config, data_dir=data_dir, plugins=[("writes", WritePlugin())])


def _cli(run_cli: Any, data_dir: Path, *args: str) -> Any:
    return run_cli(["tokens", *args], config={"kernel": {"data_dir": str(data_dir)}})


def _create(run_cli: Any, data_dir: Path, *args: str) -> str:
    result = _cli(run_cli, data_dir, "create", *args)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert re.fullmatch(r"ssp_[A-Za-z0-9_-]{43}", token), result.stdout
    assert "not shown again" in result.stderr
    return token


def _bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def _audits(app: Flask, name: str) -> list[Any]:
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection():
        return store.audit.query(event=name, limit=100)


def _listed(run_cli: Any, data_dir: Path) -> list[dict[str, Any]]:
    result = _cli(run_cli, data_dir, "list", "--json")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_read_and_write_tokens_from_the_cli(make_app: Any, run_cli: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    app = _app(make_app, data_dir)
    client = app.test_client()
    assert client.get("/api/audit").status_code == 401  # signed out, no token
    read = _create(run_cli, data_dir, "--name", "dashboard", "--scope", "read")
    write = _create(run_cli, data_dir, "--name", "sync script", "--scope", "write")
    # the server did not need a restart; a token opens the API like a session would
    resp = client.get("/api/audit", headers=_bearer(read))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"] == "no-store"
    # read: GET only; write: anything, with no CSRF token even from a foreign Origin (the
    # token is not ambient: a page cannot have it sent for it)
    refused = client.post("/api/things", headers=_bearer(read, **EVIL))
    assert refused.status_code == 403 and refused.json["reason"] == "read-only-token"
    made = client.post("/api/things", headers=_bearer(write, **EVIL))
    assert made.status_code == 201, made.get_data(as_text=True)
    assert client.get("/api/plugins", headers=_bearer(write)).status_code == 200
    # every use of the write token is audited, none of the read token
    used = _audits(app, "api_token.used")
    assert [(e.details["method"], e.details["path"]) for e in reversed(used)] == [
        ("POST", "/api/things"),
        ("GET", "/api/plugins"),
    ]
    assert {e.details["name"] for e in used} == {"sync script"}
    assert {e.event for e in _audits(app, "api_token.created")} == {"api_token.created"}
    # last used is recorded; the list shows no token
    listed = {t["name"]: t for t in _listed(run_cli, data_dir)}
    assert listed["dashboard"]["last_used_at"] and listed["dashboard"]["scope"] == "read"
    assert read not in json.dumps(listed) and write not in json.dumps(listed)
    # stored hashed: neither token is anywhere in the database files
    blob = b"".join(p.read_bytes() for p in data_dir.rglob("*.db*"))
    assert blob and read.encode() not in blob and write.encode() not in blob
    # revoked (with the server running): refused at once
    revoked = _cli(run_cli, data_dir, "revoke", listed["sync script"]["id"])
    assert revoked.exit_code == 0, revoked.output
    gone = client.get("/api/plugins", headers=_bearer(write))
    assert gone.status_code == 401
    assert gone.headers["WWW-Authenticate"].startswith("Bearer")
    unknown = _cli(run_cli, data_dir, "revoke", "deadbeef")
    assert unknown.exit_code != 0 and "no API token" in unknown.output


def test_tokens_are_limited_per_token_and_expire(
    make_app: Any, run_cli: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    app = _app(make_app, data_dir, api_token_rate_limit="3/minute")
    client = app.test_client()
    first = _create(run_cli, data_dir, "--name", "one")
    second = _create(run_cli, data_dir, "--name", "two")
    statuses = [client.get("/api/plugins", headers=_bearer(first)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    # another token from the same address has its own budget
    assert client.get("/api/plugins", headers=_bearer(second)).status_code == 200
    # an expired token is refused
    from soulspot_security import api_tokens

    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection():
        _info, short = api_tokens.create(
            "short", "read", user_id="owner", expires_in=dt.timedelta(milliseconds=1)
        )
    deadline = time.monotonic() + 5
    status = 200
    while status == 200 and time.monotonic() < deadline:
        status = client.get("/api/plugins", headers=_bearer(short)).status_code
    assert status == 401


def test_a_bad_token_never_falls_back_and_foreign_bearers_are_left_alone(
    make_app: Any, tmp_path: Path
) -> None:
    app = _app(make_app, tmp_path / "data")
    client = app.test_client()
    bad = client.get("/api/plugins", headers=_bearer("ssp_" + "x" * 43))
    assert bad.status_code == 401 and bad.json["reason"] == "invalid-token"
    # a forged POST with a made-up token gets 401, not past CSRF
    assert client.post("/api/things", headers=_bearer("ssp_nope", **EVIL)).status_code == 401
    # a bearer that is not ours (the metrics scrape token) is not judged by the token gate
    other = client.get("/api/plugins", headers=_bearer("metrics-scrape-token"))
    assert other.status_code == 401 and other.json.get("reason") is None
    assert len(_audits(app, "security.api_token_refused")) == 1  # first of its kind only


def test_the_api_tokens_page_shows_a_new_token_once(
    make_app: Any, run_cli: Any, tmp_path: Path
) -> None:
    """Without a sign-in plugin the page is this machine's owner's (loopback only)."""
    data_dir = tmp_path / "data"
    app = make_app(disable=NO_AUTH, data_dir=data_dir)
    client = app.test_client()
    own = {"Origin": "http://localhost"}
    page = client.get("/security/tokens")
    assert page.status_code == 200 and "No API tokens yet" in page.get_data(as_text=True)
    assert 'href="/security/tokens"' in client.get("/").get_data(as_text=True)  # nav item
    made = client.post(
        "/security/tokens",
        data={"name": "home assistant", "scope": "write", "expires_days": "7"},
        headers=own,
    )
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    token = re.search(r'value="(ssp_[^"]+)"', made.get_data(as_text=True))
    assert token, made.get_data(as_text=True)
    again = client.get("/security/tokens").get_data(as_text=True)
    assert "home assistant" in again and token.group(1) not in again
    (listed,) = _listed(run_cli, data_dir)
    assert listed["scope"] == "write" and listed["expires_at"]
    created = dt.datetime.fromisoformat(listed["created_at"])
    expires = dt.datetime.fromisoformat(listed["expires_at"])
    assert (expires - created).days == 7
    # a token cannot manage tokens
    with_token = client.get("/security/tokens", headers=_bearer(token.group(1)))
    assert with_token.status_code == 403
    # a forged revoke is refused; the page's own form works
    assert (
        client.post("/security/tokens/revoke", data={"id": listed["id"]}, headers=EVIL).status_code
        == 403
    )
    gone = client.post("/security/tokens/revoke", data={"id": listed["id"]}, headers=own)
    assert gone.status_code == 303
    assert _listed(run_cli, data_dir) == []
    assert [e.details["via"] for e in _audits(app, "api_token.revoked")] == ["web"]
