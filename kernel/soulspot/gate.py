"""The kernel's gate: the last request phase before the view (stage ``STAGE_GATE``).

In order: the baseline cross-site refusal (only when no plugin provides ``csrf``), then the
login gate (maintenance is refused earlier, by :mod:`soulspot.inflight`): public views go on;
without an auth plugin only this machine may use SoulSpot; with one, a signed-in user goes
on and everyone else is redirected to sign in (pages) or answered 401 (API, non-GET).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, Response, current_app, redirect, request

from .context import current_user, is_csrf_exempt, is_local_request, is_public, request_view
from .errors import problem_response, wants_json
from .state import KernelState
from .types import CONCERN_CSRF, STAGE_GATE, RequestPhase

F = TypeVar("F", bound=Callable[..., Any])

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _state() -> KernelState:
    return cast(KernelState, current_app.extensions["soulspot"])


def login_gate() -> Response | None:
    """``None`` when the request may go on; else the refusal (redirect, 401, 403)."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # no route: let the 404 happen
    if endpoint == "static" or endpoint.endswith(".static"):
        return None
    if is_public(request_view()):
        return None
    state = _state()
    if state.auth is None:
        if is_local_request():
            return None
        return problem_response(
            403,
            "Only from this machine",
            "No sign-in plugin is enabled, so SoulSpot answers only on this machine. Enable "
            "an auth plugin (the built-in one is Spotify sign-in) to use it from elsewhere.",
        )
    if current_user() is not None:
        return None
    if wants_json() or request.method not in ("GET", "HEAD"):
        return problem_response(401, "Sign-in required", "Sign in to use SoulSpot.")
    return redirect(state.auth.login_url(request.full_path.rstrip("?")))  # type: ignore[return-value]


def login_required(view: F) -> F:
    """Require a signed-in user. The kernel already guards every non-public view when an auth
    plugin is enabled; this decorator states it explicitly and guards views on its own."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        refused = login_gate()
        if refused is not None:
            return refused
        return view(*args, **kwargs)

    return cast(F, wrapped)


def _cross_site() -> bool:
    """A browser says this state-changing request comes from another site."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return True
    origin = request.headers.get("Origin")
    return origin is not None and origin != request.host_url.rstrip("/")


def gate_phase(app: Flask, state: KernelState) -> RequestPhase:
    """The kernel's own request phase, built once per app."""
    baseline_csrf = not any(CONCERN_CSRF in p.provides for p in state.enabled_plugins())
    app.config["SOULSPOT_BASELINE_CSRF"] = baseline_csrf

    def gate() -> Response | None:
        if (
            baseline_csrf
            and request.method not in _SAFE_METHODS
            and not is_csrf_exempt(request_view())
            and _cross_site()
        ):
            # No plugin provides the 'csrf' concern: the kernel still refuses what a browser
            # marks as cross-site, so a web page cannot drive SoulSpot (the security plugin
            # adds tokens, an allow-list and audit events).
            return problem_response(
                403, "Cross-site request refused", "This request came from another site."
            )
        return login_gate()

    # a probe is public and answered in maintenance: the gate has nothing to do for it
    return RequestPhase("kernel.gate", STAGE_GATE, before=gate, probes=False)
