"""Security headers with flask-talisman, HTTPS behind a reverse proxy, CSP violation reports.

Talisman's defaults force HTTPS and HSTS, which break plain http on 127.0.0.1; here both are on
only when ``[kernel] public_url`` is https. Behind a proxy, ``[kernel] trusted_proxies`` wraps
the app in werkzeug's ``ProxyFix`` so ``request.is_secure`` and the client IP are the real ones.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response
from flask_talisman import DENY, Talisman
from werkzeug.middleware.proxy_fix import ProxyFix

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

PERMISSIONS_POLICY: dict[str, str] = {
    "accelerometer": "()",
    "browsing-topics": "()",
    "camera": "()",
    "geolocation": "()",
    "gyroscope": "()",
    "microphone": "()",
    "payment": "()",
    "usb": "()",
}

#: Headers talisman does not set.
EXTRA_HEADERS: dict[str, str] = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

#: Probes that a plain-http health check (Docker, the proxy) must reach without a redirect.
PROBE_PREFIXES = ("/health", "/metrics")


def is_https(public_url: str) -> bool:
    return public_url.lower().startswith("https://")


def install(app: Flask, cfg: SecurityConfig) -> Talisman:
    """Wrap the app in ProxyFix (when proxies are trusted) and install talisman."""
    kernel = app.extensions["soulspot"].settings.kernel
    https = is_https(kernel.public_url)
    proxies = kernel.trusted_proxies
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
    talisman = Talisman(
        app,
        force_https=https,
        force_https_permanent=False,
        strict_transport_security=https,
        strict_transport_security_max_age=cfg.hsts_max_age,
        strict_transport_security_include_subdomains=cfg.hsts_include_subdomains,
        strict_transport_security_preload=False,
        session_cookie_secure=https,
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        frame_options=DENY,
        content_security_policy=dict(CSP),
        content_security_policy_nonce_in=["script-src"],
        content_security_policy_report_uri=CSP_REPORT_PATH,
        referrer_policy=cfg.referrer_policy,
        permissions_policy=dict(PERMISSIONS_POLICY),
        x_content_type_options=True,
        x_xss_protection=False,
    )
    if not https:
        # Talisman sets this on each request when session_cookie_secure; be explicit anyway.
        app.config["SESSION_COOKIE_SECURE"] = False
    app.after_request(_extra_headers)
    return talisman


def exempt_probes_from_https(app: Flask) -> None:
    """Let plain-http health probes through without the HTTPS redirect (call after every
    blueprint is registered). Their responses still carry every header."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PROBE_PREFIXES):
            view = app.view_functions.get(rule.endpoint)
            if view is None:
                continue
            options: dict[str, Any] = dict(getattr(view, "talisman_view_options", {}))
            options["force_https"] = False
            setattr(view, "talisman_view_options", options)  # noqa: B010


def _extra_headers(response: Response) -> Response:
    for key, value in EXTRA_HEADERS.items():
        response.headers.setdefault(key, value)
    return response
