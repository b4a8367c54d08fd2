"""CSRF (Origin, Sec-Fetch-Site, token), 422 and 413 through HTTP, and the OpenAPI document."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from typing import Any

from flask import Blueprint, Flask, jsonify
from pydantic import BaseModel, ConfigDict, Field
from security_support import NO_AUTH

from soulspot import hookimpl
from soulspot.testing import LiveServer
from soulspot.types import PluginManifest
from soulspot.validation import validate


class EchoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=50)
    times: int = Field(1, ge=1, le=5)


class EchoOut(BaseModel):
    text: str


class EchoForm(BaseModel):
    text: str = Field(min_length=1)
    csrf_token: str | None = None


class EchoPlugin:
    """A plugin with a JSON API route and a form route, as other plugins write them."""

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: echo")

    @hookimpl
    def register_blueprints(self, app: Flask) -> list[Blueprint]:
        bp = Blueprint("echo", __name__)

        @bp.post("/api/echo")
        @validate(body=EchoIn, response=EchoOut, summary="Echo")
        def api_echo(body: EchoIn) -> Any:
            return jsonify(text=body.text * body.times)

        @bp.post("/echo")
        @validate(form=EchoForm)
        def form_echo(form: EchoForm) -> str:
            return form.text

        return [bp]


def _app(make_app: Any, **config: Any) -> Flask:
    return make_app(
        {"plugins": {"security": config}} if config else None,
        disable=NO_AUTH,
        plugins=[("echo", EchoPlugin())],
    )


def _audits(app: Flask, name: str) -> list[Any]:
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection():
        return store.audit.query(event=name, limit=100)


def test_same_origin_json_and_form_are_accepted(make_app: Any) -> None:
    app = _app(make_app)
    client = app.test_client()
    own = {"Origin": "http://localhost"}
    resp = client.post("/api/echo", json={"text": "hi", "times": 2}, headers=own)
    assert resp.status_code == 200 and resp.json == {"text": "hihi"}
    resp = client.post("/echo", data={"text": "hello"}, headers={"Sec-Fetch-Site": "same-origin"})
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "hello"
    # the default port is the same origin
    resp = client.post("/api/echo", json={"text": "a"}, headers={"Origin": "http://localhost:80"})
    assert resp.status_code == 200


def test_foreign_origin_is_refused_even_with_a_valid_token(make_app: Any) -> None:
    app = _app(make_app)
    client = app.test_client()
    token = client.get("/api/security/csrf-token").json["csrf_token"]
    for origin in ("https://evil.example", "null", "http://localhost.evil.example"):
        resp = client.post(
            "/api/echo",
            json={"text": "x"},
            headers={"Origin": origin, "X-CSRF-Token": token},
        )
        assert resp.status_code == 403, origin
        assert resp.mimetype == "application/problem+json"
        assert resp.json["type"].endswith("/csrf")
        assert resp.json["reason"] == "foreign-origin"
    resp = client.post("/echo", data={"text": "x"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert resp.status_code == 403
    # a flood from the same page is refused every time but audited once per kind and window
    # (distinct Origins no longer write a row each: issue 15)
    for _ in range(5):
        again = client.post("/api/echo", json={"text": "x"}, headers={"Origin": "null"})
        assert again.status_code == 403
    events = _audits(app, "security.csrf_rejected")
    assert len(events) == 2
    assert {e.details["reason"] for e in events} == {"foreign-origin", "sec-fetch-site-cross-site"}
    assert all(e.outcome == "refused" for e in events)
    assert all("token" not in str(e.details).lower() or "csrf" in e.event for e in events)
    assert not any(token in str(e.details) for e in events)


def test_foreign_origin_is_refused_over_real_http(make_app: Any) -> None:
    app = _app(make_app)
    with LiveServer(app) as server:
        for origin, expected in ((server.url, 200), ("https://evil.example", 403)):
            req = urllib.request.Request(
                server.url + "/api/echo",
                data=b'{"text": "hi"}',
                headers={"Origin": origin, "Content-Type": "application/json"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    status, ctype = resp.status, resp.headers["Content-Type"]
            except urllib.error.HTTPError as exc:
                status, ctype = exc.code, exc.headers["Content-Type"]
            assert status == expected, origin
        assert ctype == "application/problem+json"


def test_token_needed_when_neither_origin_nor_fetch_metadata(make_app: Any) -> None:
    app = _app(make_app)
    client = app.test_client()
    assert client.post("/api/echo", json={"text": "x"}).status_code == 403
    bad = client.post("/api/echo", json={"text": "x"}, headers={"X-CSRF-Token": "nope"})
    assert bad.status_code == 403 and bad.json["reason"] == "bad-token"
    token = client.get("/api/security/csrf-token").json["csrf_token"]
    ok = client.post("/api/echo", json={"text": "x"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200
    form = client.post("/echo", data={"text": "y", "csrf_token": token})
    assert form.status_code == 200
    # the token belongs to the session: another client's session does not accept it
    stranger = app.test_client()
    resp = stranger.post("/api/echo", json={"text": "x"}, headers={"X-CSRF-Token": token})
    assert resp.status_code == 403


def test_browser_gets_an_html_refusal_page(make_app: Any) -> None:
    app = _app(make_app)
    resp = app.test_client().post(
        "/echo",
        data={"text": "x"},
        headers={"Origin": "https://evil.example", "Accept": "text/html"},
    )
    assert resp.status_code == 403
    assert resp.mimetype == "text/html"
    assert "Cross-site request refused" in resp.get_data(as_text=True)


def test_templates_render_the_session_token(make_app: Any) -> None:
    """csrf_token() in templates (the kernel's sign-out form, every plugin form) is the
    session's token, stable across requests of that session."""
    app = _app(make_app)
    assert app.jinja_env.globals["csrf_token"].__module__ == "soulspot_security.guard"
    client = app.test_client()
    token = client.get("/api/security/csrf-token").json["csrf_token"]
    assert len(token) >= 32
    assert client.get("/api/security/csrf-token").json["csrf_token"] == token
    assert app.test_client().get("/api/security/csrf-token").json["csrf_token"] != token


def test_http_422_lists_each_field_and_413_caps_the_body(make_app: Any) -> None:
    app = _app(make_app, max_body_bytes=2048)
    with LiveServer(app) as server:
        own = {"Origin": server.url, "Content-Type": "application/json"}

        def post(data: bytes) -> tuple[int, str, bytes]:
            req = urllib.request.Request(
                server.url + "/api/echo", data=data, headers=own, method="POST"
            )
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    return resp.status, resp.headers["Content-Type"], resp.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.headers["Content-Type"], exc.read()

        status, ctype, body = post(b'{"text": "", "times": 9, "extra": 1}')
        assert status == 422 and ctype == "application/problem+json"
        import json

        problem = json.loads(body)
        locs = sorted(".".join(e["loc"]) for e in problem["errors"])
        assert locs == ["extra", "text", "times"]
        status, ctype, body = post(b"not json")
        assert status == 422
        status, ctype, body = post(b'{"text": "' + b"x" * 4000 + b'"}')
        assert status == 413 and ctype == "application/problem+json"
        assert json.loads(body)["type"].endswith("/too-large")
        # a query string that does not fit its model is a 422 too
        try:
            urllib.request.urlopen(server.url + "/api/audit?page=zero", timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 422
            assert json.loads(exc.read())["errors"][0]["loc"] == ["page"]
        else:
            raise AssertionError("expected 422")


def test_openapi_document_describes_validated_api_routes(make_app: Any) -> None:
    app = _app(make_app)
    doc = app.test_client().get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    echo = paths["/api/echo"]["post"]
    assert echo["operationId"] == "echo.api_echo"
    body_ref = echo["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref == "#/components/schemas/EchoIn"
    assert doc["components"]["schemas"]["EchoIn"]["properties"]["times"]["maximum"] == 5
    ok = echo["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok == "#/components/schemas/EchoOut"
    for code in ("403", "413", "422", "429", "500"):
        content = echo["responses"][code]["content"]
        assert content["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
    audit = paths["/api/audit"]["get"]
    params = {p["name"]: p for p in audit["parameters"]}
    assert set(params) == {"event", "since", "until", "page"}
    assert params["since"]["schema"]["format"] == "date"
    assert "/api/plugins" in paths and "/api/security/csrf-token" in paths
    # UI routes and form routes outside /api/ are not part of the API document
    assert not [p for p in paths if not p.startswith("/api/")]
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", doc["info"]["version"])
