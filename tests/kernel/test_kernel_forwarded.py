"""Issue 15 item 7: behind a reverse proxy with ``trusted_proxies = 0``, a request that
carries forwarding headers is never "this machine", whatever Host the proxy passed on, and
``soulspot serve`` warns when ``public_url`` is set without trusted proxies."""

from __future__ import annotations

import re
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kernel_support import BUILTINS, SOULSPOT, Process, clean_env

#: A reverse proxy on the same host that passes the client's Host header on (nginx
#: ``proxy_set_header Host $http_host``) and adds its usual headers.
PROXIED = [
    {"X-Forwarded-For": "203.0.113.7"},
    {"X-Real-IP": "203.0.113.7"},
    {"Forwarded": "for=203.0.113.7;proto=https"},
    {"X-Forwarded-Host": "127.0.0.1:8765", "X-Forwarded-Proto": "https"},
]
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}
HOST = {"Host": "127.0.0.1:8765"}
#: public_url is https, so plain http is redirected there first
HTTPS = "https://127.0.0.1:8765"


@pytest.mark.parametrize("headers", PROXIED, ids=lambda h: next(iter(h)))
def test_forwarded_requests_are_not_local_without_trusted_proxies(
    make_app: Any, headers: dict[str, str]
) -> None:
    """Before: the Host header decided, so these got /metrics, the detailed /health and the
    setup page as if they were the owner at the console."""
    app = make_app({"kernel": {"public_url": "https://music.example.org"}})
    client = app.test_client()
    client.environ_base.update(LOCAL)

    def get(path: str, sent: dict[str, str]) -> Any:
        return client.get(path, base_url=HTTPS, headers=sent)

    # the owner on this machine
    assert get("/metrics", HOST).status_code == 200
    assert "checks" in get("/health", HOST).get_json()
    assert get("/auth/setup", HOST).status_code == 200
    # a remote client through the proxy, Host passed on
    sent = {**HOST, **headers}
    assert get("/metrics", sent).status_code in (401, 403)
    assert get("/health", sent).status_code == 401  # the detailed health needs sign-in
    assert get("/auth/setup", sent).status_code == 403


def test_trusted_proxies_use_the_forwarded_client(make_app: Any) -> None:
    app = make_app({"kernel": {"public_url": "https://music.example.org", "trusted_proxies": 1}})
    client = app.test_client()
    client.environ_base.update(LOCAL)
    remote = {**HOST, "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    assert client.get("/metrics", headers=remote).status_code in (401, 403)
    console = {**HOST, "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https"}
    assert client.get("/metrics", headers=console).status_code == 200


def _status(url: str, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # a loopback URL we started
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_serve_warns_and_passes_forwarding_headers_to_the_app(tmp_path: Path) -> None:
    """Through the real server: waitress used to drop X-Forwarded-* when no proxy was trusted,
    which hid the only sign that 127.0.0.1 was a proxy."""
    env = {
        "SOULSPOT_DISABLE_PLUGINS": ",".join(BUILTINS),  # no auth: only this machine is served
        "SOULSPOT__KERNEL__PUBLIC_URL": "https://music.example.org",
        "SOULSPOT__KERNEL__DATA_DIR": str(tmp_path / "data"),
    }
    proc = Process([SOULSPOT, "serve", "--port", "0"], cwd=tmp_path, env=clean_env(env))
    try:
        warning = proc.wait_for("warning: [kernel] public_url is")
        assert "https://music.example.org but trusted_proxies is 0" in warning
        line = proc.wait_for("SoulSpot listening on ")
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        base = match.group(1)
        assert _status(base + "/", {}) == 200
        assert _status(base + "/", {"X-Forwarded-For": "203.0.113.7"}) == 403
        proc.proc.send_signal(signal.SIGTERM)
        code, output = proc.finish()
    finally:
        proc.kill()
    assert code == 0, output
