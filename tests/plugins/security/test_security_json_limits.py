"""Issue 15 item 3: any JSON body anywhere is bounded in size and nesting, and a bad one is
a 4xx, never a 500 (``/security/csp-report`` is reachable cross-site as ``text/plain``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from flask import Blueprint, Flask, jsonify, request
from pydantic import BaseModel, ConfigDict
from security_support import NO_AUTH

from soulspot import hookimpl
from soulspot.testing import LiveServer
from soulspot.types import PluginManifest
from soulspot.validation import validate


class AnyBody(BaseModel):
    model_config = ConfigDict(extra="allow")


class JsonPlugin:
    """Routes that read JSON the two ways plugins do: ``@validate`` and ``get_json``."""

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: json bodies")

    @hookimpl
    def register_blueprints(self, app: Flask) -> list[Blueprint]:
        bp = Blueprint("jsonbodies", __name__)

        @bp.post("/api/validated")
        @validate(body=AnyBody, summary="Validated body")
        def validated(body: AnyBody) -> Any:
            return jsonify(keys=len(body.model_dump()))

        @bp.post("/api/raw")
        def raw() -> Any:
            data = request.get_json(force=True)
            return jsonify(kind=type(data).__name__)

        return [bp]


ROUTES = ["/security/csp-report", "/api/validated", "/api/raw"]


OWN = {"Origin": "http://localhost", "Accept": "application/json"}


def _app(make_app: Any, **config: Any) -> Flask:
    return make_app(
        {"plugins": {"security": config}} if config else None,
        disable=NO_AUTH,
        plugins=[("jsonbodies", JsonPlugin())],
    )


def _post(url: str, body: bytes, content_type: str) -> tuple[int, str]:
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        # what a hostile page's fetch(..., {mode: "no-cors"}) sends: no preflight needed
        headers={"Content-Type": content_type, "Origin": "https://evil.example"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # our own loopback server
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_deeply_nested_csp_report_from_another_site_is_a_400_over_http(make_app: Any) -> None:
    """Before: ``[[[[...]]]]`` (50 000 levels, 100 KB) made the CSP endpoint answer 500."""
    app = _app(make_app)
    deep = b"[" * 50_000 + b"]" * 50_000
    with LiveServer(app) as server:
        status, body = _post(server.url + "/security/csp-report", deep, "text/plain")
        assert status == 400, body
        assert "JSON nested too deeply" in body and "at most 32 levels" in body
        # a real report still gets through
        report = json.dumps({"csp-report": {"blocked-uri": "inline"}}).encode()
        assert _post(server.url + "/security/csp-report", report, "text/plain")[0] == 204


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b'{"csp-report": ' + b"[" * 40 + b"]" * 40 + b"}",
    ],
    ids=["arrays", "objects", "just-over"],
)
def test_every_json_route_refuses_deep_nesting_with_a_4xx(
    make_app: Any, path: str, body: bytes
) -> None:
    client = _app(make_app).test_client()
    resp = client.post(path, data=body, content_type="application/json", headers=OWN)
    assert resp.status_code == 400, (path, resp.get_data(as_text=True)[:300])
    assert resp.get_json()["title"] == "JSON nested too deeply"


@pytest.mark.parametrize("path", ROUTES)
def test_brackets_inside_strings_and_moderate_nesting_are_fine(make_app: Any, path: str) -> None:
    client = _app(make_app).test_client()
    text = "[" * 5000 + '\\"{' * 100
    nested: Any = {"blocked-uri": text}
    for _ in range(15):  # 31 levels with the envelope: just inside the default of 32
        nested = {"x": [nested]}
    body = json.dumps({"csp-report": nested}).encode()
    resp = client.post(path, data=body, content_type="application/json", headers=OWN)
    assert resp.status_code in (200, 204, 422), resp.get_data(as_text=True)[:300]


@pytest.mark.parametrize("path", ROUTES)
def test_json_bodies_over_the_size_limit_get_413(make_app: Any, path: str) -> None:
    client = _app(make_app, json_max_bytes=4096, json_max_depth=8).test_client()
    big = json.dumps({"csp-report": {"blocked-uri": "x" * 5000}}).encode()
    resp = client.post(path, data=big, content_type="application/json", headers=OWN)
    assert resp.status_code == 413, resp.get_data(as_text=True)[:300]
    nine = b"[" * 9 + b"]" * 9
    assert (
        client.post(path, data=nine, content_type="application/json", headers=OWN).status_code
        == 400
    )
