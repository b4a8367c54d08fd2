"""``/health/live``: the security headers on every answer, a correlation id per request,
one access line per probe; a refused host is refused every time."""

from __future__ import annotations

import json
from typing import Any

HOST = "127.0.0.1:8765"


def _headers(resp: Any) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k != "X-Request-ID"}


def test_replayed_probes_carry_the_security_headers_and_their_own_request_id(
    make_app: Any, capsys: Any
) -> None:
    app = make_app()
    client = app.test_client()
    first = client.get("/health/live", headers={"Host": HOST})
    assert first.status_code == 200
    capsys.readouterr()
    ids = []
    for _ in range(3):
        resp = client.get("/health/live", headers={"Host": HOST})
        assert resp.status_code == 200
        assert resp.get_data() == first.get_data() == b'{"status":"ok"}\n'
        assert resp.mimetype == "application/json"
        assert _headers(resp).keys() == _headers(first).keys()
        for name in ("X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
            assert resp.headers[name] == first.headers[name]
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        assert "'nonce-" not in resp.headers["Content-Security-Policy"]
        ids.append(resp.headers["X-Request-ID"])
    assert len(set(ids)) == 3 and first.headers["X-Request-ID"] not in ids
    # a safe incoming id is echoed, an unsafe one replaced
    echoed = client.get("/health/live", headers={"Host": HOST, "X-Request-ID": "probe-42"})
    assert echoed.headers["X-Request-ID"] == "probe-42"
    unsafe = client.get("/health/live", headers={"Host": HOST, "X-Request-ID": "a b<c>"})
    assert unsafe.headers["X-Request-ID"] != "a b<c>"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    access = [e for e in lines if e.get("logger") == "soulspot.access"]
    assert [e["request_id"] for e in access] == [*ids, "probe-42", unsafe.headers["X-Request-ID"]]
    assert {(e["path"], e["status"], e["method"]) for e in access} == {("/health/live", 200, "GET")}


def test_head_probe_has_no_body_and_the_same_headers(make_app: Any) -> None:
    client = make_app().test_client()
    get = client.get("/health/live")
    for _ in range(2):
        head = client.head("/health/live")
        assert head.status_code == 200
        assert head.get_data() == b""
        assert _headers(head).keys() == _headers(get).keys()


def test_a_refused_host_is_refused_every_time(make_app: Any) -> None:
    client = make_app().test_client()
    for _ in range(3):
        resp = client.get("/health/live", headers={"Host": "rebind.attacker.example"})
        assert resp.status_code == 400
    assert client.get("/health/live", headers={"Host": HOST}).status_code == 200


def test_cross_origin_and_query_string_probes_get_the_same_answer(make_app: Any) -> None:
    client = make_app().test_client()
    plain = client.get("/health/live")
    for kwargs in ({"headers": {"Origin": "https://dash.example.org"}}, {"query_string": "x=1"}):
        resp = client.get("/health/live", **kwargs)
        assert resp.status_code == 200
        # JSON: a CSP that allows no script, no nonce made for it
        assert "'nonce-" not in resp.headers["Content-Security-Policy"]
        assert _headers(resp).keys() == _headers(plain).keys()
