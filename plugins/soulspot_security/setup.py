"""Wiring: what ``init_app`` installs and the phases requests meet, in their order."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response

from soulspot import api
from soulspot.types import STAGE_GUARD, Job, Middleware, RequestPhase

from . import guard, headers, ratelimit
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
    guard: guard.Guard
    cors: bool


def install(app: Flask) -> None:
    """Flask-side set-up: template globals, cookie flags, error handlers, flask-cors."""
    cfg = config(app)
    state = SecurityState(
        headers=headers.install(app, cfg),
        limits=ratelimit.install(app, cfg),
        guard=guard.install(app, cfg),
        cors=bool(cfg.cors_origins),
    )
    api.set_state_for(EXTENSION, state, app)


def request_phases(app: Flask) -> list[RequestPhase]:
    """In order: the headers (the HTTPS redirect first; every answer gets the headers,
    refusals included), rate limits, then body size / CORS preflight / CSRF."""
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
        RequestPhase(
            "security.guard", STAGE_GUARD + 20, before=state.guard, after=after, probes=False
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
