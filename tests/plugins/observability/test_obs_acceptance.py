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


def test_profiles_and_full_health_are_for_the_owner_only(
    make_app: Any, provider: LocalOAuthProvider, tmp_path: Any
) -> None:
    data_dir = tmp_path / "owner"
    app = make_app(
        {
            "plugins": {
                "spotify": {
                    **provider.client_config(),
                    "owner": "alice",
                    "allowed_users": ["carol"],
                },
                "observability": {"profile_slow_ms": 60_000},
            }
        },
        data_dir=data_dir,
    )
    outside = {"REMOTE_ADDR": "192.0.2.7"}
    owner = app.test_client()
    provider.next_user = "alice"
    assert owner.get(_callback_path(owner), base_url=BASE).status_code in (302, 303)
    name = "20261125T201500Z-kernel.dashboard-abc123.html"  # as the profiler names them
    (data_dir / "profiles").mkdir(mode=0o700, exist_ok=True)
    (data_dir / "profiles" / name).write_text("<!doctype html><title>profile</title>")
    page = owner.get("/system/health", base_url=BASE).get_data(as_text=True)
    assert "Slow-request profiles" in page and name in page
    assert owner.get(f"/system/profiles/{name}", base_url=BASE).status_code == 200
    assert owner.get("/health", base_url=BASE, environ_base=outside).status_code == 200

    friend = app.test_client()
    provider.next_user = "carol"
    assert friend.get(_callback_path(friend), base_url=BASE).status_code in (302, 303)
    page = friend.get("/system/health", base_url=BASE, environ_base=outside)
    assert page.status_code == 200
    assert "Slow-request profiles" not in page.get_data(as_text=True)
    assert name not in page.get_data(as_text=True)
    refused = friend.get(f"/system/profiles/{name}", base_url=BASE, environ_base=outside)
    assert refused.status_code == 403
    assert friend.get("/health", base_url=BASE, environ_base=outside).status_code == 403
    anonymous = app.test_client().get("/health", base_url=BASE, environ_base=outside)
    assert anonymous.status_code == 401
