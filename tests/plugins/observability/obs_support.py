"""Helpers for the observability tests: a plugin registered in code, log parsing, a tiny
HTTP server that records the headers of calls made to it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flask import Blueprint, Flask, jsonify

import soulspot.api
from soulspot import hookimpl
from soulspot.types import CheckResult, HealthCheck, Job, PluginManifest

#: Plugins the observability tests do not need (their own tests cover them).
OTHERS = ("sqlite", "spotify", "security", "backup", "metrics", "library", "collection")


def parse_lines(text: str) -> list[dict[str, Any]]:
    """Every non-empty line as JSON (fails the test on the first line that is not)."""
    out = []
    for line in text.splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:  # pragma: no cover - the failure message
                raise AssertionError(f"log line is not JSON: {line!r}") from exc
    return out


class Probe:
    """A plugin registered with ``make_app(plugins=[("probe", Probe(...))])``."""

    def __init__(self, checks: Iterable[HealthCheck] = (), outbound_url: str = "") -> None:
        self.checks = list(checks)
        self.outbound_url = outbound_url
        self.job_runs = 0

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test probe")

    @hookimpl
    def health_checks(self, app: Flask) -> Iterable[HealthCheck]:
        return self.checks

    @hookimpl
    def jobs(self, app: Flask) -> Iterable[Job]:
        def work() -> None:
            self.job_runs += 1
            import logging

            logging.getLogger("soulspot.probe").info("job working", extra={"n": self.job_runs})

        return [Job("probe-job", work, "interval", {"hours": 1})]

    @hookimpl
    def register_blueprints(self, app: Flask) -> Iterable[Blueprint]:
        bp = Blueprint("probe", __name__)
        probe = self

        @bp.get("/api/probe/boom")
        def boom() -> Any:
            raise RuntimeError("probe exploded")

        @bp.get("/api/probe/slow")
        def slow() -> Any:
            deadline = time.perf_counter() + 0.06
            n = 0
            while time.perf_counter() < deadline:  # busy, so the profiler sees frames
                n += 1
            return jsonify(spins=n)

        @bp.get("/api/probe/outbound")
        def outbound() -> Any:
            # What the spotify plugin does for each call to Spotify: pass the id along.
            import requests

            resp = requests.get(
                probe.outbound_url,
                headers={"X-Request-ID": soulspot.api.request_id()},
                timeout=5,
            )
            return jsonify(upstream=resp.status_code)

        @bp.get("/api/probe/log")
        def log_line() -> Any:
            import logging

            logging.getLogger("soulspot.probe").info(
                "probe says",
                extra={
                    "headers": {"Authorization": "Bearer abc.def.ghi", "Accept": "text/html"},
                    "access_token": "tok-1234567890",
                    "note": "sent code_verifier=verif-0987654321 and Bearer zzz-secret-bearer",
                },
            )
            return jsonify(ok=True)

        return [bp]


class Switch:
    """A critical health check whose outcome a test flips."""

    def __init__(self, name: str = "switch", critical: bool = True) -> None:
        self.ok = True
        self.calls = 0
        self.check = HealthCheck(name, self._run, critical=critical, timeout=1.0)

    def _run(self) -> CheckResult:
        self.calls += 1
        return CheckResult("ok", "fine") if self.ok else CheckResult("fail", "switched off")


class Recorder:
    """A 127.0.0.1 HTTP server that records the headers of every request."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.headers.append(dict(self.headers.items()))
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    @contextmanager
    def running(self) -> Iterator[Recorder]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(5)
