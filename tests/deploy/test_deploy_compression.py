"""Response compression (``[kernel] compress``): text is sent brotli- or gzip-compressed as the
client accepts, binary and tiny responses are left alone, and the setting turns it off."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import brotli
import pytest
from flask import Flask

# Without a sign-in plugin the kernel serves on loopback only, which the test client is:
# the dashboard and the JSON API are reachable without signing in.
NO_AUTH = ["spotify", "library", "collection"]  # the library needs the auth concern


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(disable=NO_AUTH)


def test_html_page_is_brotli_when_accepted(app: Flask) -> None:
    client = app.test_client()
    plain = client.get("/", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    packed = client.get("/", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert packed.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in packed.headers["Vary"]
    body = brotli.decompress(packed.data)
    assert b"<h1>Dashboard</h1>" in body
    assert len(packed.data) < len(body) / 2


def test_gzip_for_clients_without_brotli(app: Flask) -> None:
    resp = app.test_client().get("/", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["Content-Encoding"] == "gzip"
    assert b"<h1>Dashboard</h1>" in gzip.decompress(resp.data)


def test_json_api_and_static_text_are_compressed(app: Flask) -> None:
    client = app.test_client()
    api = client.get("/api/plugins", headers={"Accept-Encoding": "gzip"})
    assert api.mimetype == "application/json"
    assert api.headers["Content-Encoding"] == "gzip"
    assert b'"name"' in gzip.decompress(api.data)
    css = client.get("/static/soulspot.css", headers={"Accept-Encoding": "br"})
    assert css.headers["Content-Encoding"] == "br"
    assert b"{" in brotli.decompress(b"".join(css.response))  # type: ignore[arg-type]


def test_tiny_responses_are_left_alone(make_app: Callable[..., Flask]) -> None:
    app = make_app(disable=NO_AUTH)
    app.add_url_rule("/tiny", "tiny", lambda: "<p>ok</p>")
    resp = app.test_client().get("/tiny", headers={"Accept-Encoding": "gzip, br"})
    assert resp.status_code == 200 and resp.data == b"<p>ok</p>"
    assert "Content-Encoding" not in resp.headers


def test_binary_download_is_not_compressed(make_app: Callable[..., Flask]) -> None:
    app = make_app(disable=NO_AUTH)
    # A registered view returning a zip: routes can be added before the first request.
    app.add_url_rule(
        "/blob", "blob", lambda: (b"PK" + b"\0" * 8192, 200, {"Content-Type": "application/zip"})
    )
    resp = app.test_client().get("/blob", headers={"Accept-Encoding": "gzip, br"})
    assert resp.status_code == 200
    assert "Content-Encoding" not in resp.headers
    assert len(resp.data) == 8194


def test_compress_false_turns_it_off(make_app: Callable[..., Flask]) -> None:
    app = make_app({"kernel": {"compress": False}}, disable=NO_AUTH)
    resp = app.test_client().get("/", headers={"Accept-Encoding": "gzip, br"})
    assert resp.status_code == 200
    assert "Content-Encoding" not in resp.headers
    assert b"<h1>Dashboard</h1>" in resp.data
