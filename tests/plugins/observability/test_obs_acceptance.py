"""Acceptance with every default plugin and the local OAuth provider (tests/support): one
request id in the response, the access line, the error line and the outbound call to the
provider; and a full sign-in run leaves no secret in the log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from obs_support import parse_lines

from support.oauth_provider import LocalOAuthProvider

BASE = "http://127.0.0.1:8765"


@pytest.fixture
def provider() -> Iterator[LocalOAuthProvider]:
    with LocalOAuthProvider(redirect_uris=[BASE + "/auth/callback"]) as p:
        yield p


@pytest.fixture
def app(make_app: Any, provider: LocalOAuthProvider) -> Flask:
    return make_app({"plugins": {"spotify": provider.client_config()}})  # type: ignore[no-any-return]


def _callback_path(client: Any) -> str:
    start = client.get("/auth/login?next=/", base_url=BASE)
    assert start.status_code == 302, start.get_data(as_text=True)
    answer = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(BASE + "/auth/callback")
    return location[len(BASE) :]


def test_request_id_in_response_access_line_error_line_and_outbound_call(
    app: Flask, provider: LocalOAuthProvider, capsys: Any
) -> None:
    client = app.test_client()
    callback = _callback_path(client)
    provider.rate_limit("token")  # Spotify answers 429: the sign-in fails
    capsys.readouterr()
    rid = "accept-signin-429"
    resp = client.get(callback, base_url=BASE, headers={"X-Request-ID": rid})
    lines = parse_lines(capsys.readouterr().out)

    assert resp.status_code >= 400
    assert resp.headers["X-Request-ID"] == rid
    assert rid in resp.get_data(as_text=True)  # the error page/problem shows it
    token_calls = [h for endpoint, h in provider.seen_headers if endpoint.startswith("token")]
    assert token_calls and token_calls[-1]["X-Request-Id"] == rid
    mine = [e for e in lines if e["request_id"] == rid]
    access = [e for e in mine if e["logger"] == "soulspot.access"]
    assert len(access) == 1 and access[0]["status"] == resp.status_code
    assert access[0]["path"] == "/auth/callback"
    problems = [e for e in mine if e["level"] in ("warning", "error")]
    assert any(e["event"] == "sign-in failed" for e in problems), mine
    assert all(e["request_id"] == rid for e in mine)


def test_full_sign_in_run_logs_no_secret(
    app: Flask, provider: LocalOAuthProvider, capsys: Any
) -> None:
    capsys.readouterr()
    client = app.test_client()
    callback = _callback_path(client)
    signed_in = client.get(callback, base_url=BASE)
    assert signed_in.status_code in (302, 303), signed_in.get_data(as_text=True)
    session = client.get_cookie("soulspot_session", domain="127.0.0.1")
    assert session is not None
    assert client.get("/", base_url=BASE).status_code == 200
    health = client.get("/health", base_url=BASE, environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert health.status_code == 200  # the signed-in owner sees it from anywhere
    out = capsys.readouterr().out
    lines = parse_lines(out)
    assert any(e["logger"] == "soulspot.access" and e["user"] for e in lines)

    secrets = set(provider.issued_tokens())
    secrets |= {r["code_verifier"] for r in provider.token_requests if "code_verifier" in r}
    secrets |= {r["code"] for r in provider.token_requests if "code" in r}
    secrets |= {session.value, app.config["SECRET_KEY"]}
    assert len(secrets) >= 5
    for secret in secrets:
        assert secret not in out
