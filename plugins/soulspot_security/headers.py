"""Security headers with flask-talisman, HTTPS behind a reverse proxy, CSP violation reports.

Talisman's defaults force HTTPS and HSTS, which break plain http on 127.0.0.1; here both are on
only when ``[kernel] public_url`` is https. Behind a proxy, ``[kernel] trusted_proxies`` wraps
the app in werkzeug's ``ProxyFix`` so ``request.is_secure`` and the client IP are the real ones.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, request
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

#: Features no SoulSpot page uses (a string, so talisman does not re-serialise it per request).
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

#: Headers talisman does not set.
EXTRA_HEADERS: dict[str, str] = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

#: Probes that a plain-http health check (Docker, the proxy) must reach without a redirect.
PROBE_PREFIXES = ("/health", "/metrics")

#: JSON-only routes: no browser runs script from them, so their CSP carries no nonce (its
#: ``script-src 'report-sample'`` then allows no script at all) and none is generated.
NO_NONCE_PREFIXES = ("/api/",)


_Computed = tuple[list[tuple[str, str]], frozenset[str]]


class CachedTalisman(Talisman):  # type: ignore[misc]
    """Talisman recomputes each view's options four times per request; they never change
    once the app serves, so compute them once per endpoint."""

    def __init__(self, app: Flask, **kwargs: Any) -> None:
        self._options: dict[str | None, dict[str, Any]] = {}
        self._policies: dict[tuple[int, tuple[str, ...]], list[tuple[str, bool]]] = {}
        #: (endpoint, https) -> (headers talisman adds without a nonce, their lower-case names)
        #: (endpoint, https) -> the headers talisman adds without a nonce, their names
        self._static: dict[tuple[str | None, bool], _Computed] = {}
        super().__init__(app, **kwargs)

    def _parse_policy(self, policy: Any) -> str:
        """Same output as talisman's, with the static part serialised once: only this
        request's nonce is added per request."""
        if not isinstance(policy, dict):
            return str(super()._parse_policy(policy))
        nonce_in = tuple(self._get_local_options()["content_security_policy_nonce_in"])
        key = (id(policy), nonce_in)
        parts = self._policies.get(key)
        if parts is None:
            parts = self._policies[key] = [
                (f"{k} {v if isinstance(v, str) else ' '.join(v)}", k in nonce_in)
                for k, v in policy.items()
            ]
        nonce = getattr(request, "csp_nonce", None)
        if nonce is None:
            return "; ".join(text for text, _ in parts)
        return "; ".join(f"{text} 'nonce-{nonce}'" if wants else text for text, wants in parts)

    def _set_response_headers(self, response: Response) -> Response:
        """Talisman's headers plus the cross-origin ones it does not know, in one hook.

        Without a nonce (JSON, probes) they depend only on the endpoint and the scheme, so
        talisman computes them once per pair and later responses get the same list in one
        pass (talisman sets them one by one, each a scan of the headers: ~35 us per API
        call). A response that already has one of them, or needs a nonce, goes through
        talisman as always."""
        req = request._get_current_object()  # type: ignore[attr-defined]
        headers = response.headers
        if getattr(req, "csp_nonce", None) is None:
            secure = req.is_secure or req.headers.get("X-Forwarded-Proto", "http") == "https"
            key = (req.endpoint, secure)
            static = self._static.get(key)
            if static is None:
                static = self._static[key] = self._computed_headers(response.__class__)
            added, names = static
            if names.isdisjoint(name.lower() for name, _ in headers):
                headers.extend(added)
                return response
        response = super()._set_response_headers(response)
        if "Cross-Origin-Opener-Policy" not in headers:
            headers.extend(EXTRA_HEADERS)
        return response

    def _computed_headers(self, response_class: type[Response]) -> _Computed:
        """What talisman (and EXTRA_HEADERS) add to a blank response of this request."""
        blank = response_class()
        present = {name.lower() for name, _ in blank.headers}
        super()._set_response_headers(blank)
        blank.headers.extend(EXTRA_HEADERS)
        added = [(k, v) for k, v in blank.headers.items() if k.lower() not in present]
        return added, frozenset(k.lower() for k, _ in added)

    def _force_https(self) -> Any:
        # Off for plain-http deployments: nothing to redirect, no Secure cookie to set.
        if not self.force_https:
            return None
        return super()._force_https()

    def _get_local_options(self) -> dict[str, Any]:
        endpoint = request.endpoint
        options = self._options.get(endpoint)
        if options is None:
            options = self._options[endpoint] = super()._get_local_options()
        return options


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
    talisman = CachedTalisman(
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
        permissions_policy=PERMISSIONS_POLICY,
        x_content_type_options=True,
        x_xss_protection=False,
    )
    if not https:
        # Talisman sets this on each request when session_cookie_secure; be explicit anyway.
        app.config["SESSION_COOKIE_SECURE"] = False
    return talisman


def adjust_view_options(app: Flask) -> None:
    """Let plain-http health probes through without the HTTPS redirect, and give JSON-only
    routes a CSP without nonce (call after every blueprint is registered). Their responses
    still carry every header."""
    for rule in app.url_map.iter_rules():
        changes: dict[str, Any] = {}
        if rule.rule.startswith(PROBE_PREFIXES):
            changes["force_https"] = False
        if rule.rule.startswith(NO_NONCE_PREFIXES):
            changes["content_security_policy_nonce_in"] = []
        view = app.view_functions.get(rule.endpoint)
        if view is None or not changes:
            continue
        options: dict[str, Any] = dict(getattr(view, "talisman_view_options", {}))
        options.update(changes)
        setattr(view, "talisman_view_options", options)  # noqa: B010
