"""Wiring: what ``init_app`` installs and the phases requests meet, in their order."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response

from soulspot import api
from soulspot.types import STAGE_GUARD, Job, Middleware, RequestPhase

from . import cache_control, guard, headers, json_limits, ratelimit, token_gate
from .audit_throttle import RefusalThrottle, throttle_for
from .config import SecurityConfig

log = logging.getLogger("soulspot.security")

EXTENSION = "soulspot.security"


def config(app: Flask) -> SecurityConfig:
    cfg = api.config_for("security", app)
    if not isinstance(cfg, SecurityConfig):  # only if someone replaced the config model
        raise TypeError("[plugins.security] was not validated with SecurityConfig")
    return cfg


@dataclass
class SecurityState:
    headers: headers.SecurityHeaders
    limits: ratelimit.RateLimits
    tokens: token_gate.TokenGate
    guard: guard.Guard
    cors: bool


def install(app: Flask) -> None:
    """Flask-side set-up: the JSON limits (the app's JSON provider), template globals, cookie
    flags, error handlers, flask-cors; the request steps are :func:`request_phases`."""
    cfg = config(app)
    json_limits.install(app, cfg.json_max_bytes, cfg.json_max_depth)
    throttle = throttle_for(cfg)
    limits = ratelimit.install(app, cfg)
    state = SecurityState(
        headers=headers.install(app, cfg),
        limits=limits,
        tokens=token_gate.TokenGate(cfg.api_token_rate_limit, limits.storage, throttle),
        guard=guard.install(app, cfg, throttle),
        cors=bool(cfg.cors_origins),
    )
    api.set_state_for(EXTENSION, state, app)


def request_phases(app: Flask) -> list[RequestPhase]:
    """In order: the headers (the HTTPS redirect first; every answer gets the headers,
    refusals included), rate limits, API tokens (before CSRF: a checked token request is
    exempt, a bad token gets 401), then body size / CORS preflight / CSRF; ``no-store`` on
    signed-in answers."""
    state: SecurityState = api.state_for(EXTENSION, app)

    def limits() -> None:
        state.limits.check()

    after: Callable[[Response], Response] | None = guard.vary_on_origin if state.cors else None
    return [
        RequestPhase(
            "security.headers", STAGE_GUARD, before=state.headers.before, after=state.headers.after
        ),
        # probes are exempt from limits and take GET only: neither step has work for them
        RequestPhase("security.limits", STAGE_GUARD + 10, before=limits, probes=False),
        RequestPhase("security.tokens", STAGE_GUARD + 15, before=state.tokens, probes=False),
        RequestPhase(
            "security.guard", STAGE_GUARD + 20, before=state.guard, after=after, probes=False
        ),
        # liveness probes keep their own caching
        RequestPhase(
            "security.cache_control",
            STAGE_GUARD + 30,
            after=cache_control.no_store_when_signed_in,
            probes=False,
        ),
    ]


def middleware(app: Flask) -> list[Middleware]:
    return headers.proxy_fix(app)


def on_startup(app: Flask) -> None:
    from .auditlog import record_plugin_changes

    try:
        record_plugin_changes()
    except Exception:  # never stop start-up over the audit trail; say so in the log
        log.exception("could not compare enabled plugins with the last start")


def panel_context() -> dict[str, Any]:
    from soulspot.api import has_storage

    from .auditlog import recent

    return {"enabled": has_storage(), "events": recent(5)}


def throttle(app: Flask) -> RefusalThrottle:
    state: SecurityState = api.state_for(EXTENSION, app)
    return state.guard.throttle


def summary_job(app: Flask) -> Job:
    from .refusals import summary_job as job

    return job(app, throttle(app))


def on_shutdown(app: Flask) -> None:
    """Write what the refused-request counters still hold (the process is going away)."""
    from .refusals import flush

    try:
        with app.app_context():
            flush(throttle(app), everything=True)
    except Exception:  # shutdown goes on; say so in the log
        log.exception("could not write the refused-request summaries")


def retention_job(app: Flask) -> Job:
    days = config(app).audit_retention_days

    def run() -> None:
        from .auditlog import prune

        prune(days)

    return Job(
        id="security.audit_retention",
        func=run,
        trigger="cron",
        trigger_args={"hour": 3, "minute": 17},
        run_at_start=False,
    )
