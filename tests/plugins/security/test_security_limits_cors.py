"""Rate limits and CORS, through real HTTP (a waitress LiveServer) and the test client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from security_support import NO_AUTH

from soulspot.config import ConfigError
from soulspot.testing import LiveServer


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _audit_events(app: Any, name: str) -> list[Any]:
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection():
        return store.audit.query(event=name, limit=100)


def test_auth_routes_are_limited_per_client_with_problem_json_and_retry_after(
    make_app: Any,
) -> None:
    app = make_app({"plugins": {"security": {"rate_limit_auth": "3/minute"}}})
    with LiveServer(app) as server:
        statuses = [_get(server.url + "/auth/signed-out")[0] for _ in range(3)]
        assert all(s < 400 for s in statuses), statuses
        # the limit is shared by the /auth/* routes (but the sign-in start and callback)
        status, headers, body = _get(server.url + "/auth/setup", {"Accept": "application/json"})
        assert status == 429
        assert headers["Content-Type"] == "application/problem+json"
        problem = json.loads(body)
        assert problem["status"] == 429 and problem["request_id"]
        assert problem["type"].endswith("/rate-limited")
        assert 1 <= int(headers["Retry-After"]) <= 61
        for _ in range(3):
            assert _get(server.url + "/auth/setup")[0] == 429
        # other areas are not affected, probes never limited (the sign-in start's own budget:
        # test_security_owner_lockout.py)
        assert _get(server.url + "/health/live")[0] == 200
    # one audit event for the burst, not one per refused request
    events = _audit_events(app, "security.rate_limited")
    assert len(events) == 1
    assert events[0].outcome == "refused"
    assert events[0].details["path"] == "/auth/setup"
    assert events[0].ip == "127.0.0.1"


def test_api_default_limit_and_per_endpoint_override(make_app: Any) -> None:
    app = make_app(
        {
            "plugins": {
                "security": {
                    "rate_limit_api": "4/minute",
                    "rate_limits": {"kernel.api_plugins": "1/minute"},
                }
            }
        },
        disable=NO_AUTH,
    )
    client = app.test_client()
    assert client.get("/api/plugins").status_code == 200
    resp = client.get("/api/plugins")
    assert resp.status_code == 429
    assert resp.mimetype == "application/problem+json"
    assert int(resp.headers["Retry-After"]) >= 1
    # the override replaced the API limit for that endpoint only; others share 4/minute
    assert [client.get("/api/audit").status_code for _ in range(5)] == [200] * 4 + [429]
    # another client (by IP) has its own budget
    other = client.get("/api/audit", environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert other.status_code == 200


def test_health_and_metrics_are_never_limited(make_app: Any) -> None:
    app = make_app(
        {"plugins": {"security": {"rate_limit_default": "2/minute", "rate_limit_api": "2/minute"}}},
        disable=NO_AUTH,
    )
    client = app.test_client()
    for path in ("/health/live", "/health/ready", "/metrics"):
        assert {client.get(path).status_code for _ in range(6)} <= {200, 503}, path
    # the default limit applies to other pages
    assert [client.get("/plugins").status_code for _ in range(3)] == [200, 200, 429]


def test_limits_can_be_switched_off(make_app: Any) -> None:
    app = make_app(
        {"plugins": {"security": {"rate_limits_enabled": False, "rate_limit_api": "1/minute"}}},
        disable=NO_AUTH,
    )
    client = app.test_client()
    assert {client.get("/api/plugins").status_code for _ in range(3)} == {200}


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ({"rate_limit_auth": "ten per minute"}, "plugins.security.rate_limit_auth"),
        ({"rate_limits": {"x.y": "lots"}}, "plugins.security.rate_limits"),
        ({"cors_origins": ["https://ok.example/path"]}, "plugins.security.cors_origins"),
        ({"rate_limit_storage_uri": "redis"}, "plugins.security.rate_limit_storage_uri"),
        ({"max_body_bytes": 10}, "plugins.security.max_body_bytes"),
        ({"no_such_key": 1}, "unknown key plugins.security.no_such_key"),
    ],
)
def test_bad_config_is_refused_with_the_key_path(
    make_app: Any, section: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ConfigError) as info:
        make_app({"plugins": {"security": section}}, disable=NO_AUTH)
    assert needle in str(info.value)


def test_cors_is_off_by_default(make_app: Any) -> None:
    app = make_app(disable=NO_AUTH)
    client = app.test_client()
    resp = client.get("/api/plugins", headers={"Origin": "https://dash.example.org"})
    assert resp.status_code == 200
    assert not [k for k, _v in resp.headers if k.startswith("Access-Control-")]
    pre = client.options(
        "/api/plugins",
        headers={"Origin": "https://dash.example.org", "Access-Control-Request-Method": "GET"},
    )
    assert not [k for k, _v in pre.headers if k.startswith("Access-Control-")]


def test_cors_allow_list_preflight_and_deny(make_app: Any) -> None:
    allowed = "https://dash.example.org"
    app = make_app(
        {"plugins": {"security": {"cors_origins": [allowed], "cors_allow_credentials": True}}}
    )
    assert app.extensions["soulspot"].auth is not None  # preflight must pass the login gate
    with LiveServer(app) as server:
        url = server.url + "/api/plugins"
        pre = urllib.request.Request(
            url,
            method="OPTIONS",
            headers={
                "Origin": allowed,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "X-CSRF-Token",
            },
        )
        with urllib.request.urlopen(pre, timeout=10) as resp:
            assert resp.status == 200
            headers = resp.headers
        assert headers["Access-Control-Allow-Origin"] == allowed
        assert "GET" in headers["Access-Control-Allow-Methods"]
        assert "x-csrf-token" in headers["Access-Control-Allow-Headers"].lower()
        assert headers["Access-Control-Allow-Credentials"] == "true"
        assert headers["Access-Control-Max-Age"] == "600"
        # the actual request from the allowed origin (401: not signed in) carries ACAO
        status, got, _ = _get(url, {"Origin": allowed})
        assert status == 401
        assert got["Access-Control-Allow-Origin"] == allowed
        assert "Origin" in got.get("Vary", "")
        # a non-listed origin gets no Access-Control-Allow-* at all, preflight or not
        for method in ("OPTIONS", "GET"):
            req = urllib.request.Request(
                url,
                method=method,
                headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
            )
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    hdrs = resp.headers
            except urllib.error.HTTPError as exc:
                hdrs = exc.headers
            assert not [h for h in hdrs if h.lower().startswith("access-control-allow")]
        # UI pages are never CORS-enabled
        status, got, _ = _get(server.url + "/auth/signed-out", {"Origin": allowed})
        assert "Access-Control-Allow-Origin" not in got
