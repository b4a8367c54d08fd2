"""Every response carries the security headers: every registered route (UI and API, ok and
error paths), 404, 405, 413, 422, 429, 500; HSTS and the HTTPS redirect only with an https
public_url; no template needs unsafe-inline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask
from security_support import NO_AUTH, NONCE, assert_security_headers, csp_directives, nonce_of

from soulspot import hookimpl
from soulspot.types import PluginManifest

ROOT = Path(__file__).resolve().parents[3]
SAMPLE_ARGS = {"backup_id": "no-such-backup", "name": "no-such-profile", "filename": "soulspot.css"}


class BoomPlugin:
    """A third-party plugin whose route fails: the 500 page must carry the headers too."""

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: a failing route")

    @hookimpl
    def register_blueprints(self, app: Flask) -> list[Blueprint]:
        bp = Blueprint("boom", __name__)

        @bp.get("/boom")
        def boom() -> str:
            raise RuntimeError("boom")

        @bp.get("/api/boom")
        def api_boom() -> str:
            raise RuntimeError("boom")

        return [bp]


def _url(rule: Any) -> str:
    url = rule.rule
    for arg in rule.arguments:
        url = re.sub(rf"<(?:[^:<>]+:)?{arg}>", SAMPLE_ARGS.get(arg, "x"), url)
    return url


def _requests(app: Flask) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD"}):
            out.append((method, _url(rule)))
    return sorted(out)


def _exercise(app: Flask, *, skip: tuple[str, ...] = ()) -> int:
    """Request every route: GETs as is, state-changing ones with the app's own Origin (the ok
    path as far as CSRF goes), without Origin or token, and from a foreign Origin (403)."""
    client = app.test_client()
    csrf_exempt = {"/security/csp-report"}
    checked = 0
    for method, url in _requests(app):
        if url.startswith(skip):
            continue
        if method in ("GET", "OPTIONS"):
            variants: list[dict[str, str]] = [{}]
        else:
            variants = [{"Origin": "http://localhost"}, {}, {"Origin": "https://evil.example"}]
        for headers in variants:
            resp = client.open(url, method=method, headers=headers)
            where = f"{method} {url} {headers}"
            if not url.startswith("/boom") and not url.startswith("/api/boom"):
                assert resp.status_code < 500, f"{where}: {resp.status_code}"
            foreign = headers.get("Origin", "").startswith("https://evil")
            # no proof of origin, or a foreign one: refused
            refused = method not in ("GET", "OPTIONS") and url not in csrf_exempt
            if refused and (not headers or foreign):
                assert resp.status_code == 403, where
                assert resp.json is None or resp.json["type"].endswith("/csrf"), where
            assert_security_headers(resp, where=where)
            checked += 1
    return checked


def test_every_route_without_auth_carries_the_headers(make_app: Any) -> None:
    app = make_app(disable=NO_AUTH, plugins=[("boom", BoomPlugin())])
    checked = _exercise(app)
    assert checked >= 30
    client = app.test_client()
    for url, status in [
        ("/no-such-page", 404),
        ("/api/no-such-thing", 404),
        ("/boom", 500),
        ("/api/boom", 500),
        ("/api/audit?page=0", 422),
        ("/api/plugins?unknown=1", 422),
    ]:
        resp = client.get(url)
        assert resp.status_code == status, url
        assert_security_headers(resp, where=url)
    resp = client.delete("/api/plugins", headers={"Origin": "http://localhost"})
    assert resp.status_code == 405
    assert_security_headers(resp, where="DELETE /api/plugins")
    resp = client.post(
        "/api/audit",
        data=b"x" * 2_000_000,
        headers={"Origin": "http://localhost", "Content-Type": "application/octet-stream"},
    )
    assert resp.status_code == 413
    assert_security_headers(resp, where="413")


def test_every_route_with_auth_carries_the_headers(make_app: Any) -> None:
    """With sign-in on, the gated routes answer 401/redirects: headers on those too, and
    on the /auth/* pages."""
    app = make_app({"plugins": {"security": {"rate_limit_auth": "1000/minute"}}})
    assert app.extensions["soulspot"].auth is not None
    checked = _exercise(app)
    assert checked >= 30


def test_429_carries_the_headers(make_app: Any) -> None:
    app = make_app(
        {"plugins": {"security": {"rate_limit_api": "2/minute"}}},
        disable=NO_AUTH,
    )
    client = app.test_client()
    statuses = [client.get("/api/plugins").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    resp = client.get("/api/plugins")
    assert_security_headers(resp, where="429")


def test_html_page_nonce_matches_csp_and_is_fresh_per_request(make_app: Any) -> None:
    app = make_app(disable=NO_AUTH)
    client = app.test_client()
    first = client.get("/")
    second = client.get("/")
    nonce = nonce_of(first)
    assert f'nonce="{nonce}"' in first.get_data(as_text=True)
    assert nonce != nonce_of(second)
    page = first.get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert f'nonce="{nonce}"' in tag and "src=" in tag, tag
    # the error page too (a refused request renders HTML with the layout's script)
    missing = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert f'nonce="{nonce_of(missing)}"' in missing.get_data(as_text=True)


def test_json_api_routes_get_a_csp_that_allows_no_script_at_all(make_app: Any) -> None:
    """/api/* answers JSON: no nonce to generate per request, and script-src then allows
    nothing; every other header is the same as on a page."""
    app = make_app(disable=NO_AUTH)
    client = app.test_client()
    for path in ("/api/plugins", "/api/openapi.json"):
        resp = client.get(path)
        assert resp.status_code == 200 and resp.mimetype == "application/json", path
        assert_security_headers(resp, where=path)
        assert csp_directives(resp.headers["Content-Security-Policy"])["script-src"] == [
            "'report-sample'"
        ], path
    page = client.get("/")
    assert NONCE.search(page.headers["Content-Security-Policy"])


def test_no_hsts_and_no_redirect_on_plain_http(make_app: Any) -> None:
    app = make_app(disable=NO_AUTH)
    resp = app.test_client().get("/")
    assert resp.status_code == 200
    assert "Strict-Transport-Security" not in resp.headers
    assert "Secure" not in (resp.headers.get("Set-Cookie") or "")
    # a forwarding header nobody is configured to trust: never "this machine" (issue 15)
    resp = app.test_client().get("/", headers={"X-Forwarded-Proto": "http"})
    assert resp.status_code == 403
    assert "Strict-Transport-Security" not in resp.headers


def test_https_public_url_behind_a_proxy(make_app: Any) -> None:
    app = make_app(
        {"kernel": {"public_url": "https://music.example.org", "trusted_proxies": 1}},
        disable=NO_AUTH,
    )
    client = app.test_client()
    # plain http reaching the app directly is sent to https
    resp = client.get("/plugins", base_url="http://music.example.org")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("https://music.example.org/plugins")
    assert_security_headers(resp, https=False, where="redirect")
    # through the proxy (X-Forwarded-Proto trusted thanks to ProxyFix): served, with HSTS
    forwarded = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "127.0.0.1",
        "X-Forwarded-Host": "music.example.org",
    }
    resp = client.get("/", base_url="http://127.0.0.1:8765", headers=forwarded)
    assert resp.status_code == 200
    assert_security_headers(resp, https=True, where="https /")
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"
    # ProxyFix hands the app the real client address: a LAN client is not "this machine"
    remote = client.get(
        "/", base_url="http://127.0.0.1", headers={**forwarded, "X-Forwarded-For": "203.0.113.7"}
    )
    assert remote.status_code == 403
    assert_security_headers(remote, https=True, where="remote")
    # a form page sets the session (CSRF token): Secure cookie over https
    resp = client.get("/api/security/csrf-token", base_url="http://127.0.0.1", headers=forwarded)
    assert "Secure" in resp.headers["Set-Cookie"] and "HttpOnly" in resp.headers["Set-Cookie"]
    # health probes over plain http are not redirected (Docker/proxy health checks)
    resp = client.get("/health/live", base_url="http://127.0.0.1:8765")
    assert resp.status_code == 200
    assert_security_headers(resp, where="probe")


def test_csp_report_is_accepted_logged_and_rate_limited(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(
        {"plugins": {"security": {"rate_limits": {"security.csp_report": "3/minute"}}}},
        disable=NO_AUTH,
    )
    client = app.test_client()
    report = {
        "csp-report": {
            "document-uri": "http://127.0.0.1:8765/",
            "violated-directive": "script-src",
            "blocked-uri": "inline",
        }
    }
    caplog.set_level("WARNING", logger="soulspot.security")
    resp = client.post(
        "/security/csp-report",
        json=report,
        headers={"Content-Type": "application/csp-report", "Origin": "https://evil.example"},
    )
    assert resp.status_code == 204
    assert any(r.getMessage() == "csp violation" for r in caplog.records)
    bad = client.post("/security/csp-report", data="[]", content_type="application/csp-report")
    assert bad.status_code == 422
    client.post("/security/csp-report", json=report)
    limited = client.post("/security/csp-report", json=report)
    assert limited.status_code == 429
    assert_security_headers(limited, where="csp 429")


def test_no_template_has_inline_script_or_style() -> None:
    templates = sorted(
        p for base in (ROOT / "kernel", ROOT / "plugins") for p in base.rglob("templates/**/*.html")
    )
    assert len(templates) >= 8
    inline_script = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
    handlers = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
    for path in templates:
        text = path.read_text()
        name = path.relative_to(ROOT)
        assert not inline_script.search(text), f"inline <script> in {name}"
        assert "<style" not in text.lower(), f"<style> in {name}"
        assert not re.search(r"\sstyle\s*=", text, re.IGNORECASE), f"style= in {name}"
        assert not handlers.search(text), f"inline event handler in {name}"
        assert "javascript:" not in text.lower(), f"javascript: URL in {name}"
        for tag in re.findall(r"<script\b[^>]*>", text, re.IGNORECASE):
            assert "csp_nonce()" in tag, f"script without nonce in {name}: {tag}"


def test_every_post_form_carries_the_csrf_token() -> None:
    forms = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.IGNORECASE | re.DOTALL)
    seen = 0
    for base in (ROOT / "kernel", ROOT / "plugins"):
        for path in base.rglob("templates/**/*.html"):
            for attrs, body in forms.findall(path.read_text()):
                if re.search(r"method\s*=\s*\"?post", attrs, re.IGNORECASE):
                    seen += 1
                    assert 'name="csrf_token" value="{{ csrf_token() }}"' in body, (
                        f"POST form without CSRF token in {path.relative_to(ROOT)}"
                    )
    assert seen >= 1


SECURITY_HEADERS = (
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Permissions-Policy",
    "Cross-Origin-Opener-Policy",
    "Cross-Origin-Resource-Policy",
    "Strict-Transport-Security",
)


class OwnHeaderPlugin:
    """A view that sets a security header itself (a weaker one)."""

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: a view with its own X-Frame-Options")

    @hookimpl
    def register_blueprints(self, app: Flask) -> list[Blueprint]:
        from flask import Response

        bp = Blueprint("own", __name__)

        @bp.get("/api/own-header")
        def own() -> Response:
            return Response(
                "{}", mimetype="application/json", headers={"X-Frame-Options": "SAMEORIGIN"}
            )

        return [bp]


@pytest.mark.parametrize("https", [False, True])
def test_json_answers_get_the_same_headers_every_time(make_app: Any, https: bool) -> None:
    config = {"kernel": {"public_url": "https://soulspot.example.org"}} if https else {}
    app = make_app(config, disable=NO_AUTH, plugins=[("own", OwnHeaderPlugin())])
    client = app.test_client()
    base = "https://localhost" if https else "http://localhost"
    seen = []
    for path in ("/api/plugins", "/api/openapi.json", "/health/ready", "/api/no-such-thing"):
        for _ in range(3):
            resp = client.get(path, base_url=base)
            assert_security_headers(resp, https=https, where=path)
            seen.append({h: resp.headers.getlist(h) for h in SECURITY_HEADERS})
    assert all(got == seen[0] for got in seen)  # one value each, no nonce, on every answer
    assert bool(seen[0]["Strict-Transport-Security"]) is https
    # a view's own value is replaced, never doubled
    own = client.get("/api/own-header", base_url=base)
    assert {h: own.headers.getlist(h) for h in SECURITY_HEADERS} == seen[0]
