"""Security headers and CSP, HTTPS behind a reverse proxy.

HTTPS redirect and HSTS are on only when ``[kernel] public_url`` is https (plain http on
127.0.0.1 must keep working). Behind a proxy, ``[kernel] trusted_proxies`` wraps the app in
werkzeug's ``ProxyFix`` so ``request.is_secure`` and the client IP are the real ones.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, cast

from flask import Flask, Response, g, redirect, request
from werkzeug.middleware.proxy_fix import ProxyFix

from soulspot import api
from soulspot.api import Middleware

from .config import SecurityConfig

log = logging.getLogger("soulspot.security")

#: Where browsers POST CSP violation reports (the ``security.csp_report`` view).
CSP_REPORT_PATH = "/security/csp-report"

#: No script runs without this request's nonce; ``'report-sample'`` allows nothing by itself
#: (it asks browsers to include a snippet in violation reports).
CSP: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'report-sample'",
    "style-src": "'self' 'report-sample'",
    "img-src": "'self'",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
}

#: Features no SoulSpot page uses.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "browsing-topics",
        "camera",
        "geolocation",
        "gyroscope",
        "microphone",
        "payment",
        "usb",
    )
)

#: Cross-origin isolation of SoulSpot's pages and answers.
EXTRA_HEADERS: dict[str, str] = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

CSP_HEADER = "Content-Security-Policy"
HSTS_HEADER = "Strict-Transport-Security"
DENY = "DENY"


class SecurityHeaders:
    """The headers phase: the HTTPS redirect before the view, the security headers on every
    answer after it (refusals and error pages included).

    The headers are fixed once the app is built, except the CSP nonce: it is made when a
    page asks for it (the ``csp_nonce()`` template global) and added to ``script-src`` then,
    or for any other HTML answer; JSON and empty answers get a CSP whose ``script-src``
    allows no script at all. flask-talisman did this before; for SoulSpot it is a fixed list
    of headers plus a nonce, and talisman has no lower layer to use instead of the private
    methods that made it fast enough (docs/architecture.md, "Libraries").
    """

    def __init__(self, kernel: Any, cfg: SecurityConfig) -> None:
        self.https = is_https(kernel.public_url)
        hsts = f"max-age={cfg.hsts_max_age}"
        if cfg.hsts_include_subdomains:
            hsts += "; includeSubDomains"
        self.hsts = hsts
        policy = [f"{k} {v}" for k, v in CSP.items()]
        self.csp_parts = policy
        self.csp = "; ".join([*policy, f"report-uri {CSP_REPORT_PATH}"])
        self.fixed: list[tuple[str, str]] = [
            ("X-Frame-Options", DENY),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", cfg.referrer_policy),
            ("Permissions-Policy", PERMISSIONS_POLICY),
            *EXTRA_HEADERS.items(),
        ]
        self.names = frozenset(name.lower() for name, _ in [*self.fixed, (CSP_HEADER, "")])

    def csp_with_nonce(self, nonce: str) -> str:
        parts = [
            f"{part} 'nonce-{nonce}'" if part.startswith("script-src ") else part
            for part in self.csp_parts
        ]
        return "; ".join([*parts, f"report-uri {CSP_REPORT_PATH}"])

    def before(self) -> Response | None:
        if not self.https or _is_secure():
            return None
        if not api.is_measured(api.request_view()):
            return None  # machine traffic: plain-http health checks and scrapes go on
        return redirect(request.url.replace("http://", "https://", 1), code=302)  # type: ignore[return-value]

    def after(self, response: Response) -> Response:
        headers = response.headers
        if not self.names.isdisjoint(name.lower() for name, _ in headers):
            for name, _value in self.fixed:
                headers.pop(name, None)  # ours replace what a view set, as talisman did
            headers.pop(CSP_HEADER, None)
            headers.pop(HSTS_HEADER, None)
        headers.extend(self.fixed)
        nonce = g.get("csp_nonce")
        if nonce is None and response.mimetype == "text/html":
            nonce = csp_nonce()
        headers[CSP_HEADER] = self.csp if nonce is None else self.csp_with_nonce(nonce)
        if self.https and _is_secure():
            headers[HSTS_HEADER] = self.hsts
        return response



def csp_nonce() -> str:
    """This request's CSP nonce (made on first use): the ``csp_nonce()`` template global."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return cast(str, nonce)


def _is_secure() -> bool:
    return request.is_secure or request.headers.get("X-Forwarded-Proto", "http") == "https"


def is_https(public_url: str) -> bool:
    return public_url.lower().startswith("https://")


def install(app: Flask, cfg: SecurityConfig) -> SecurityHeaders:
    """Cookie flags and the ``csp_nonce`` template global; returns the headers phase."""
    kernel = api.kernel_settings(app)
    https = is_https(kernel.public_url)
    app.config.update(
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    return SecurityHeaders(kernel, cfg)


def proxy_fix(app: Flask) -> list[Middleware]:
    """Behind trusted proxies, werkzeug's ``ProxyFix`` outermost: every phase sees the real
    client address and scheme."""
    proxies = api.kernel_settings(app).trusted_proxies
    if not proxies:
        return []

    def wrap(wsgi_app: Any) -> Any:
        return ProxyFix(wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)

    return [Middleware("security.proxy_fix", 100, wrap)]
