"""What the kernel knows about the current app and request: its state, the signed-in user,
the request id, whether the client is this machine, and the markers views carry.

The lowest layer of the kernel's request code (``errors``, ``gate``, ``api`` build on it; it
imports none of them). Plugins use these names through :mod:`soulspot.api`.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import current_app, g, has_app_context, has_request_context, request

from .state import KernelState
from .types import User

F = TypeVar("F", bound=Callable[..., Any])

# --- view markers --------------------------------------------------------------------------
#
# A marker is an attribute on the view function. Plugins read them with the ``is_*``
# functions below, never by looking at URL paths: a route can move, a marker moves with it.

PUBLIC = "soulspot_public"
PROBE = "soulspot_probe"
EXEMPT_FROM_LIMITS = "soulspot_exempt_from_limits"
NOT_MEASURED = "soulspot_not_measured"
CSRF_EXEMPT = "soulspot_csrf_exempt"


def _mark(view: F, *markers: str) -> F:
    for marker in markers:
        setattr(view, marker, True)
    return view


def public(view: F) -> F:
    """Reachable without signing in (the sign-in pages, health endpoints)."""
    return _mark(view, PUBLIC)


def probe(view: F) -> F:
    """A liveness probe: public, answered even in maintenance (a restore must not get the
    container restarted), exempt from rate limits and not measured."""
    return _mark(view, PUBLIC, PROBE, EXEMPT_FROM_LIMITS, NOT_MEASURED)


def exempt_from_limits(view: F) -> F:
    """No SoulSpot rate limit applies (health checks, scrapes, a view with its own limit)."""
    return _mark(view, EXEMPT_FROM_LIMITS)


def csrf_exempt(view: F) -> F:
    """Accepts cross-site POSTs: a view that changes no state on a user's behalf (CSP
    violation reports). Whatever checks cross-site requests (the security plugin, or the
    kernel's own check without it) lets it through. Almost nothing should be."""
    return _mark(view, CSRF_EXEMPT)


def is_csrf_exempt(view: Any) -> bool:
    return view is not None and getattr(view, CSRF_EXEMPT, False) is True


def not_measured(view: F) -> F:
    """Machine traffic (scrapes, health checks): not in the request metrics, and never sent
    to https by a redirect (a plain-http health check or scraper must reach it)."""
    return _mark(view, NOT_MEASURED)


def request_view() -> Callable[..., Any] | None:
    """The view function this request is routed to (``None``: no route, a 404). The
    pipeline looks it up once per request; outside it (a bare request context) it is
    looked up here."""
    found = g.get("soulspot_view", _UNKNOWN)
    if found is not _UNKNOWN:
        return cast(Callable[..., Any] | None, found)
    endpoint = request.endpoint
    if endpoint is None:
        return None
    return cast(Callable[..., Any] | None, current_app.view_functions.get(endpoint))


_UNKNOWN = object()


def is_public(view: Any) -> bool:
    return view is not None and getattr(view, PUBLIC, False) is True


def is_probe(view: Any) -> bool:
    return view is not None and getattr(view, PROBE, False) is True


def is_exempt_from_limits(view: Any) -> bool:
    return view is not None and getattr(view, EXEMPT_FROM_LIMITS, False) is True


def is_measured(view: Any) -> bool:
    """Whether requests to ``view`` count in request metrics (404s, ``None``, do)."""
    return view is None or getattr(view, NOT_MEASURED, False) is not True


# --- the app and the request ---------------------------------------------------------------


def kernel_state() -> KernelState:
    """The current app's kernel state (kernel code only; plugins use :mod:`soulspot.api`)."""
    return cast(KernelState, current_app.extensions["soulspot"])


#: Longest bearer token looked at; longer ones are no token at all.
MAX_BEARER_TOKEN = 512


def bearer_token() -> str | None:
    """The token of this request's ``Authorization: Bearer <token>`` header, or ``None``."""
    if not has_request_context():
        return None
    header = request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > MAX_BEARER_TOKEN:
        return None
    return value


def current_user() -> User | None:
    """The signed-in user of this request (``None`` when signed out or without auth). A
    request with ``Authorization: Bearer`` is the token's user (hook ``user_from_token``),
    never the cookie session's."""
    if not has_request_context():
        return None
    if "soulspot_user" not in g:
        try:
            token = bearer_token()
            if token is not None:
                app = current_app._get_current_object()  # type: ignore[attr-defined]
                g.soulspot_user = kernel_state().pm.hook.user_from_token(app=app, token=token)
            else:
                auth = kernel_state().auth
                g.soulspot_user = auth.current_user() if auth is not None else None
        except Exception:
            g.soulspot_user_failed = True  # see user_for_page: the error page asks again
            raise
    return cast(User | None, g.soulspot_user)


def user_for_page() -> User | None:
    """:func:`current_user` for templates: ``None`` once the lookup has failed in this
    request. The error page of that failure (a full disk, a broken database) renders
    templates too; asking again would fail again inside the error handler, and the answer
    would leave Flask as the WSGI server's bare 500, without any after-phase."""
    if g.get("soulspot_user_failed", False):
        return None
    return current_user()


def request_id() -> str:
    """The correlation id of this request or job run (generated when nobody set one)."""
    if not has_app_context():
        return "-"
    rid = g.get("request_id")
    if rid is None:
        rid = g.request_id = uuid.uuid4().hex
    return cast(str, rid)


def is_loopback(addr: str | None) -> bool:
    """Whether ``addr`` (a client or bind address) is this machine: 127.0.0.0/8 or ::1."""
    if not addr:
        return False
    try:
        return ipaddress.ip_address(addr.split("%")[0]).is_loopback
    except ValueError:
        return False


#: Headers a reverse proxy adds (lower case). Without ``[kernel] trusted_proxies`` nothing
#: reads them, but their presence says a proxy forwarded the request from somewhere else.
FORWARDING_HEADERS = (
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
)
_FORWARDING_ENVIRON = tuple(f"HTTP_{h.upper().replace('-', '_')}" for h in FORWARDING_HEADERS)


def is_local_request() -> bool:
    """Whether this request comes from this machine. With ``[kernel] trusted_proxies`` the
    proxy's ``X-Forwarded-For`` gives the real client, so a loopback client is local. Without
    it, a reverse proxy on the same host makes every client 127.0.0.1: a request carrying any
    forwarding header (``X-Forwarded-For``, ``Forwarded``, ``X-Real-IP``...) came through such
    a proxy and is never local, whatever Host it names (a proxy may pass the client's Host
    on); without those, only a loopback client asking for a loopback name counts."""
    if not has_request_context() or not is_loopback(request.remote_addr):
        return False
    if kernel_state().settings.kernel.trusted_proxies > 0:
        return True
    environ = request.environ
    if any(key in environ for key in _FORWARDING_ENVIRON):
        return False
    name = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return name in ("localhost", "[::1]") or is_loopback(name)


def client_ip() -> str | None:
    return request.remote_addr if has_request_context() else None
