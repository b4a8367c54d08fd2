"""Request guards: body size cap (413), CORS allow-list with preflight, CSRF.

CSRF: a state-changing request (anything but GET, HEAD, OPTIONS, TRACE) is accepted when

1. its ``Origin`` is the app's own origin (the request's host, ``[kernel] public_url`` or one of
   ``csrf_trusted_origins``) — any other ``Origin``, ``null`` included, is always refused; or
2. without ``Origin``, the browser says ``Sec-Fetch-Site: same-origin`` (``cross-site`` and
   ``same-site`` are refused); or
3. the client sends neither header (scripts, old clients) and carries the CSRF token of its
   Flask session in the form field ``csrf_token`` or the ``X-CSRF-Token`` header.

Refusals answer 403 (problem+json or an HTML page) and write ``security.csrf_rejected``, bounded
per client and window by :mod:`.audit_throttle` (429 past the client's budget of refusals).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request, session

from soulspot import api
from soulspot.api import audit
from soulspot.errors import PROBLEM_TYPE_BASE, Problem, problem_response

from .audit_throttle import RefusalThrottle, throttle_for
from .config import SecurityConfig
from .origins import cors_patterns
from .refusals import refusal, too_many_refused
from .token_gate import checked_token

log = logging.getLogger("soulspot.security")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
SESSION_KEY = "_csrf_token"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
CORS_PATHS = r"/api/.*"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def csrf_token() -> str:
    """This session's CSRF token (made on first use); a Jinja global for every form."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in lower case without a default port, or ``None``."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


class Guard:
    """The before-request checks, in order: body size, CORS preflight, CSRF."""

    def __init__(
        self, app: Flask, cfg: SecurityConfig, throttle: RefusalThrottle | None = None
    ) -> None:
        kernel = api.kernel_settings(app)
        self.max_body = cfg.max_body_bytes
        self.cors = bool(cfg.cors_origins)
        trusted = [*cfg.csrf_trusted_origins]
        if kernel.public_url:
            trusted.append(kernel.public_url)
        self.trusted = {o for o in (normalize_origin(t) for t in trusted) if o}
        self.throttle = throttle or throttle_for(cfg)

    def __call__(self) -> Response | None:
        req = request
        length = req.content_length
        max_body = self.max_body
        view = current_app.view_functions.get(req.endpoint or "")
        own_limit = getattr(view, "soulspot_body_limit", None)  # soulspot.api.body_limit
        if callable(own_limit):
            max_body = int(own_limit())
            req.max_content_length = max_body  # also bounds a body without Content-Length
        if length is not None and length > max_body:
            raise Problem(
                413,
                "Request too large",
                f"The request body has {length} bytes; at most {max_body} are accepted.",
                type_=PROBLEM_TYPE_BASE + "too-large",
            )
        if req.method in SAFE_METHODS:
            if (
                self.cors
                and req.method == "OPTIONS"
                and "Access-Control-Request-Method" in req.headers
                and req.path.startswith("/api/")
                and req.url_rule is not None
            ):
                # A CORS preflight: answer before the login gate (browsers send no cookies
                # with it); flask-cors adds the Access-Control-* headers for allowed origins.
                return current_app.make_default_options_response()
            return None
        return self.check_csrf()

    def own_origins(self) -> set[str]:
        own = normalize_origin(request.host_url)
        return self.trusted | {own} if own else self.trusted

    def check_csrf(self) -> Response | None:
        view = current_app.view_functions.get(request.endpoint or "")
        if api.is_csrf_exempt(view):
            return None
        if checked_token() is not None:
            return None  # an API token request: no cookies, so nothing to forge (token_gate)
        origin = request.headers.get("Origin")
        if origin is not None:
            if normalize_origin(origin) in self.own_origins():
                return None
            return self.reject("foreign-origin", origin=origin[:200])
        site = request.headers.get("Sec-Fetch-Site")
        if site == "same-origin":
            return None
        if site in ("cross-site", "same-site"):
            return self.reject(f"sec-fetch-site-{site}")
        sent = request.headers.get(HEADER)
        if not sent and request.mimetype in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sent = request.form.get(FORM_FIELD)
        expected = session.get(SESSION_KEY)
        if (
            isinstance(sent, str)
            and isinstance(expected, str)
            and hmac.compare_digest(sent.encode(), expected.encode())
        ):
            return None
        return self.reject("missing-token" if not sent else "bad-token")

    def reject(self, reason: str, **details: Any) -> Response:
        # A hostile page that makes a browser POST in a loop must not flood the audit table
        # or the log: first refusal of a kind per client and window, then counts (see
        # audit_throttle); past the per-client budget, a cheap 429.
        decision = refusal(self.throttle, "security.csrf_rejected", reason, details.get("origin"))
        if decision.retry_after is not None:
            return too_many_refused(decision.retry_after)
        if decision.audit:
            audit(
                "security.csrf_rejected",
                outcome="refused",
                reason=reason,
                method=request.method,
                path=request.path,
                **details,
            )
        if decision.log:
            log.warning(
                "cross-site request refused",
                extra={"reason": reason, "path": request.path, "method": request.method},
            )
        return problem_response(
            403,
            "Cross-site request refused",
            "This request did not come from SoulSpot's own pages, so it was refused to "
            "protect your account. Reload the page and try again.",
            type_=PROBLEM_TYPE_BASE + "csrf",
            reason=reason,
        )


def install(app: Flask, cfg: SecurityConfig, throttle: RefusalThrottle | None = None) -> Guard:
    """Body cap, the ``csrf_token`` template global and flask-cors (an extension: its own
    after-request hook adds the Access-Control-* headers); returns the guard step."""
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_body_bytes
    guard = Guard(app, cfg, throttle)
    app.jinja_env.globals["csrf_token"] = csrf_token
    if cfg.cors_origins:
        from flask_cors import CORS

        CORS(
            app,
            resources={CORS_PATHS: {"origins": cors_patterns(cfg.cors_origins)}},
            supports_credentials=cfg.cors_allow_credentials,
            max_age=cfg.cors_max_age,
            allow_headers=["Content-Type", HEADER],
            methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            vary_header=True,
        )
    return guard


def vary_on_origin(response: Response) -> Response:
    """flask-cors skips ``Vary: Origin`` with a single allowed origin; caches need it."""
    if request.path.startswith("/api/"):
        response.vary.add("Origin")
    return response
