"""Requests, sign-in and outbound calls as traces: structure, names, the request id, log
lines joined by trace id, and no secret anywhere in what reaches the receiver."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Blueprint

from conftest import flush
from soulspot import hookimpl
from soulspot.api import public
from soulspot.testing import deep_merge
from soulspot.types import PluginManifest
from support.oauth_provider import LocalOAuthProvider
from support.otlp_receiver import OTLPReceiver

BASE = "http://127.0.0.1:8765"
SERVER, CLIENT = 2, 3  # OTLP span kinds


def is_http_call(span: Any) -> bool:
    return span.kind == CLIENT and ("http.url" in span.attributes or "url.full" in span.attributes)


def by_id(spans: list[Any]) -> dict[str, Any]:
    return {s.span_id: s for s in spans}


def ancestors(span: Any, spans: list[Any]) -> list[str]:
    index, names = by_id(spans), []
    while span.parent_span_id and span.parent_span_id in index:
        span = index[span.parent_span_id]
        names.append(span.name)
    return names


@pytest.fixture
def provider() -> Any:
    with LocalOAuthProvider(redirect_uris=[BASE + "/auth/callback"]) as p:
        yield p


def test_signed_in_request_is_one_trace_with_sql_children_and_no_secrets(
    traced_app: Any, receiver: OTLPReceiver, provider: LocalOAuthProvider, capsys: Any
) -> None:
    config = deep_merge(
        {"plugins": {"spotify": provider.client_config()}},
        {"plugins": {"security": {"rate_limit_auth": "1000/minute"}}},
    )
    app = traced_app(config)
    client = app.test_client()
    start = client.get("/auth/login?next=/", base_url=BASE)
    assert start.status_code == 302
    authorized = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    callback = authorized.headers["Location"]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    signed_in = client.get(callback[len(BASE) :], base_url=BASE)
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)
    cookie = client.get_cookie("soulspot_session", domain="127.0.0.1")
    assert cookie is not None
    sign_in_lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]

    answer = client.get("/api/plugins", base_url=BASE)
    assert answer.status_code == 200
    request_id = answer.headers["X-Request-ID"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    flush(app)

    spans = receiver.spans
    root = next(s for s in spans if s.attributes.get("soulspot.request_id") == request_id)
    assert root.name == "GET /api/plugins" and root.kind == SERVER and not root.parent_span_id
    assert root.resource["service.name"] == "soulspot"
    sql = [s for s in spans if s.trace_id == root.trace_id and "db.statement" in s.attributes]
    assert sql, "the session look-up's SQL is part of the request's trace"
    assert all(ancestors(s, spans)[-1] == root.name for s in sql)
    assert all(
        "?" in s.attributes["db.statement"] or "SELECT 1" in s.attributes["db.statement"]
        for s in sql
        if s.attributes["db.statement"].startswith("SELECT")
    )

    # the callback's token exchange is an outbound span inside the callback's trace
    callback_root = next(s for s in spans if s.name == "GET /auth/callback")
    outbound = [s for s in spans if is_http_call(s) and s.trace_id == callback_root.trace_id]
    assert outbound, [s.name for s in spans if is_http_call(s)]
    assert all(callback_root.name in ancestors(s, spans) for s in outbound)

    # every log line of a request carries its trace and a span id of it
    signed = next(line for line in sign_in_lines if line["event"] == "signed in")
    assert signed["trace_id"] == callback_root.trace_id
    assert signed["span_id"] in by_id(spans)
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert mine and all(line.get("trace_id") == root.trace_id for line in mine), mine

    payload = b"".join(receiver.raw)
    tokens = provider.issued_tokens()
    assert tokens
    for secret in [code, cookie.value, *tokens]:
        assert secret.encode() not in payload, "a secret reached the trace receiver"
    assert b"code=REDACTED" in payload  # the callback's query is kept, its code is not


@pytest.mark.parametrize(("trusted_proxies", "continued"), [(0, False), (1, True)])
def test_incoming_traceparent_is_honoured_only_from_trusted_proxies(
    traced_app: Any, receiver: OTLPReceiver, trusted_proxies: int, continued: bool
) -> None:
    app = traced_app({"kernel": {"trusted_proxies": trusted_proxies}})
    caller_trace, caller_span = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    answer = app.test_client().get(
        "/health/live", headers={"traceparent": f"00-{caller_trace}-{caller_span}-01"}
    )
    assert answer.status_code == 200
    flush(app)
    root = next(s for s in receiver.spans if s.name == "GET /health/live")
    assert (root.trace_id == caller_trace) is continued
    assert (root.parent_span_id == caller_span) is continued


def test_outgoing_calls_carry_traceparent_and_scrubbed_urls(
    traced_app: Any, receiver: OTLPReceiver, provider: LocalOAuthProvider
) -> None:
    from soulspot import api

    app = traced_app()
    with app.app_context(), api.span("outbound work", **{"soulspot.test": True}):
        requests.get(provider.api_base_url + "/me?access_token=leak-me&limit=5", timeout=10)
    flush(app)
    work = next(s for s in receiver.spans if s.name == "outbound work")
    call = next(s for s in receiver.spans if is_http_call(s))
    assert call.parent_span_id == work.span_id and call.trace_id == work.trace_id
    headers = {k.lower(): v for k, v in provider.seen_headers[-1][1].items()}
    assert headers["traceparent"].split("-")[1] == work.trace_id
    assert b"leak-me" not in b"".join(receiver.raw)
    urls = [v for k, v in call.attributes.items() if k in ("http.url", "url.full")]
    assert urls and all("limit=5" in u and "access_token=REDACTED" in u for u in urls)


class Slow:
    """A plugin with one page that takes 0.6 s: the slow request the docs' recipe finds."""

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(provides=())

    @hookimpl
    def register_blueprints(self, app: Any) -> list[Blueprint]:
        bp = Blueprint("slow", __name__)

        @bp.get("/slow")
        @public
        def slow() -> str:
            time.sleep(0.6)  # the work being looked for, not a wait for something else
            return "done"

        return [bp]


def test_the_docs_jq_recipe_finds_a_slow_request_and_its_trace(
    traced_app: Any, receiver: OTLPReceiver, tmp_path: Any
) -> None:
    """docs/observability.md, "From a slow request's log line to its trace", as written."""
    import re
    import shutil
    import subprocess
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "observability.md").read_text()
    section = doc.split("### From a slow request's log line to its trace", 1)[1]
    recipe = re.search(r"```sh\n(jq .+?)\n```", section, re.S).group(1)
    app = traced_app(
        {"plugins": {"observability": {"log_file": True}}},
        plugins=[("slow", Slow())],
        data_dir=tmp_path / "data",
    )
    client = app.test_client()
    assert client.get("/health/live").status_code == 200  # fast: not listed
    slow = client.get("/slow")
    assert slow.status_code == 200
    flush(app)
    jq = shutil.which("jq")
    assert jq, "jq is installed by scripts/install-system-deps.sh"
    found = subprocess.run(
        ["bash", "-c", recipe], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert found.returncode == 0, found.stderr
    [line] = [json.loads(x) for x in found.stdout.splitlines() if x.strip()]
    assert line["path"] == "/slow" and line["request_id"] == slow.headers["X-Request-ID"]
    root = next(s for s in receiver.spans if s.name == "GET /slow")
    assert line["trace_id"] == root.trace_id


def test_failed_calls_and_captured_headers_leave_no_secret_in_the_export(
    traced_app: Any, receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What instrumentations add after the hooks ran: the text of a recorded exception
    (``requests`` quotes the failing URL, query included) and, when the OTel header-capture
    variables ask for them, headers such as ``Authorization``."""
    from soulspot import api

    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    app = traced_app(disable=["spotify", "library", "collection"])
    client = app.test_client()
    assert (
        client.get(
            "/health/ready", base_url=BASE, headers={"Authorization": "Bearer HDR-sekrit-1"}
        ).status_code
        == 200
    )
    refused = pytest.raises(requests.ConnectionError)  # nothing listens on port 9
    with app.app_context(), api.span("outbound work"), refused:
        requests.get("http://127.0.0.1:9/x?access_token=LEAK-sekrit-2&limit=5", timeout=5)
    flush(app)
    exported = b"".join(receiver.raw)
    assert b"HDR-sekrit-1" not in exported and b"LEAK-sekrit-2" not in exported
    assert b"access_token=REDACTED" in exported  # the exception's text, cleaned
