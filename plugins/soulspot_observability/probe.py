"""A fast path for the liveness probe: ``GET``/``HEAD /health/live`` replayed below Flask.

Orchestrators call ``/health/live`` every few seconds and it depends on nothing, yet through
Flask it runs every plugin's request hooks (session, rate limiter, CSRF guard, login gate,
talisman, compression, metrics). This WSGI middleware sends the first probe of each request
*shape* through the whole app, keeps the answer when it is a plain 200 (status, headers and
body: the security headers every plugin added included), and answers later probes of the
same shape from it, with what is per request done here:

- the correlation id: an incoming safe ``X-Request-ID`` is echoed, else a new one;
- the access line (when ``access_log`` is on), like any other request.

The shape is everything the answer may depend on: method, host, scheme, script root and
``Accept-Encoding``. A request with a query string, an ``Origin`` (CORS) or a refused host
(the kernel's allowed host names: not a 200, so never kept) always goes through Flask.
Answers that set a cookie are never kept. The CSP nonce of the first answer is dropped
(a JSON body runs no script), so no nonce is ever sent twice. ``/health/live`` is not in
the request metrics (the metrics plugin excludes it), so nothing is skipped there.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from . import logs
from .web import _SAFE_ID, HEADER, new_request_id

PATH = "/health/live"
#: Shapes kept at most (hosts come from clients: bounded memory whatever they send).
MAX_SHAPES = 16

_NONCE = re.compile(r" 'nonce-[^']*'")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _Answer:
    __slots__ = ("body", "code", "headers", "status")

    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.code = int(status.split(" ", 1)[0])


class LiveProbeFastPath:
    """WSGI middleware in front of the Flask app (inside ProxyFix, which fixes the environ
    first when proxies are trusted)."""

    def __init__(self, app: WSGIApp, *, access_log: bool) -> None:
        self.app = app
        self.access_log = access_log
        self._answers: dict[tuple[Any, ...], _Answer] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        if environ.get("PATH_INFO") != PATH:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        if (
            method not in ("GET", "HEAD")
            or environ.get("QUERY_STRING")
            or environ.get("HTTP_ORIGIN")
        ):
            return self.app(environ, start_response)
        shape = (
            method,
            environ.get("HTTP_HOST"),
            environ.get("SERVER_NAME"),
            environ.get("SERVER_PORT"),
            environ.get("wsgi.url_scheme"),
            environ.get("SCRIPT_NAME", ""),
            environ.get("HTTP_ACCEPT_ENCODING"),
        )
        answer = self._answers.get(shape)
        if answer is None:
            return self._through_app(environ, start_response, shape)
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID")
        rid = incoming if incoming and _SAFE_ID.match(incoming) else new_request_id()
        start_response(answer.status, [*answer.headers, (HEADER, rid)])
        if self.access_log:
            logs.access_line(
                rid,
                method,
                PATH,
                answer.code,
                (time.perf_counter() - started) * 1000,
                None,
                environ.get("REMOTE_ADDR"),
            )
        return [answer.body]

    def _through_app(
        self, environ: dict[str, Any], start_response: StartResponse, shape: tuple[Any, ...]
    ) -> Any:
        seen: dict[str, Any] = {}

        def recording_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            seen["status"], seen["headers"] = status, list(headers)
            if exc_info is not None:
                return start_response(status, headers, exc_info)
            return start_response(status, headers)

        result = self.app(environ, recording_start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self._keep(shape, seen.get("status"), seen.get("headers"), body)
        return [body]

    def _keep(
        self,
        shape: tuple[Any, ...],
        status: str | None,
        headers: list[tuple[str, str]] | None,
        body: bytes,
    ) -> None:
        if status is None or headers is None or not status.startswith("200 ") or len(body) > 256:
            return
        kept: list[tuple[str, str]] = []
        for name, value in headers:
            lower = name.lower()
            if lower == "set-cookie":
                return  # never replay a cookie
            if lower == HEADER.lower():
                continue  # per request
            if lower == "content-security-policy":
                value = _NONCE.sub("", value)
            kept.append((name, value))
        with self._lock:
            if len(self._answers) < MAX_SHAPES:
                self._answers[shape] = _Answer(status, kept, body)
