"""Issue 15 item 6: CORS origins are exact, or one anchored subdomain wildcard form; config
refuses ``*`` and regex characters everywhere else."""

from __future__ import annotations

from typing import Any

import pytest
from security_support import NO_AUTH

from soulspot.config import ConfigError


def _acao(app: Any, origin: str) -> str | None:
    resp = app.test_client().get("/api/plugins", headers={"Origin": origin})
    assert resp.status_code == 200
    return resp.headers.get("Access-Control-Allow-Origin")


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "https://*",
        "https://*.org",
        "https://app.*.example.org",
        "https://app.example.org.*",
        "https://app.example.(org|evil)",
        "https://app[0-9].example.org",
        "https://app.example.org$",
        "^https://app.example.org",
        "https://*.example.org/path",
        "https://user@app.example.org",
        "ftp://app.example.org",
    ],
)
def test_wildcards_and_regexes_are_refused_by_config(make_app: Any, origin: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_app({"plugins": {"security": {"cors_origins": [origin]}}}, disable=NO_AUTH)
    message = str(info.value)
    assert "plugins.security.cors_origins" in message
    assert "https://*.example.org" in message  # the documented form is named


@pytest.mark.parametrize("origin", ["https://*.example.org", "https://app.example.org$"])
def test_csrf_trusted_origins_take_exact_origins_only(make_app: Any, origin: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_app({"plugins": {"security": {"csrf_trusted_origins": [origin]}}}, disable=NO_AUTH)
    assert "plugins.security.csrf_trusted_origins" in str(info.value)


def test_https_star_no_longer_allows_every_https_origin(make_app: Any) -> None:
    """Before: ``https://*`` passed validation and became the unanchored regex ``https://*``,
    so https://evil.example got credentialed CORS. Now exact origins match exactly."""
    app = make_app(
        {
            "plugins": {
                "security": {
                    "cors_origins": ["https://dash.example.org", "http://[::1]:9000"],
                    "cors_allow_credentials": True,
                }
            }
        },
        disable=NO_AUTH,
    )
    assert _acao(app, "https://dash.example.org") == "https://dash.example.org"
    assert _acao(app, "http://[::1]:9000") == "http://[::1]:9000"
    for other in (
        "https://evil.example",
        "https://dash.example.org.evil.example",
        "https://dash.example.orgx",
        "http://[::1]:90001",
        "http://x::1]:9000",
    ):
        assert _acao(app, other) is None, other


def test_the_subdomain_wildcard_is_anchored(make_app: Any) -> None:
    app = make_app(
        {"plugins": {"security": {"cors_origins": ["https://*.Example.org:8443/"]}}},
        disable=NO_AUTH,
    )
    for allowed in ("https://a.example.org:8443", "https://a.b-c.example.org:8443"):
        assert _acao(app, allowed) == allowed
    for refused in (
        "https://example.org:8443",  # the parent itself is not a subdomain
        "https://a.example.org",  # other port
        "http://a.example.org:8443",  # other scheme
        "https://evil-example.org:8443",
        "https://a.example.org:8443.evil.example",
        "https://a.example.org.evil.example:8443",
        "https://a_b.example.org:8443",
    ):
        assert _acao(app, refused) is None, refused
