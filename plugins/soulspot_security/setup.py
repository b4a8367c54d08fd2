"""Wiring: what ``init_app`` and ``startup`` install, in the order requests meet it."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from soulspot.types import Job

from . import cache_control, guard, headers, json_limits, ratelimit, token_gate
from .audit_throttle import RefusalThrottle, throttle_for
from .config import SecurityConfig

log = logging.getLogger("soulspot.security")

EXTENSION = "soulspot.security"


def config(app: Flask) -> SecurityConfig:
    cfg = app.extensions["soulspot"].settings.plugins["security"]
    if not isinstance(cfg, SecurityConfig):  # only if someone replaced the config model
        raise TypeError("[plugins.security] was not validated with SecurityConfig")
    return cfg


def install(app: Flask) -> None:
    """Order matters: talisman first (its nonce exists even for requests refused later), then
    the rate limiter, then API tokens, then body size / CORS preflight / CSRF; JSON limits live
    in the app's JSON provider, no-store is an after-request hook."""
    cfg = config(app)
    json_limits.install(app, cfg.json_max_bytes, cfg.json_max_depth)
    talisman = headers.install(app, cfg)
    limiter = ratelimit.install(app, cfg)
    throttle = throttle_for(cfg)
    # API tokens before CSRF: a checked token request is exempt, a bad token gets 401
    limit_uri = ratelimit.storage_uri(cfg.rate_limit_storage_uri)
    tokens = token_gate.install(app, cfg.api_token_rate_limit, limit_uri, throttle)
    checks = guard.install(app, cfg, throttle)
    cache_control.install(app)
    app.extensions[EXTENSION] = {
        "talisman": talisman,
        "limiter": limiter,
        "guard": checks,
        "tokens": tokens,
    }


def on_startup(app: Flask) -> None:
    from .auditlog import record_plugin_changes

    headers.adjust_view_options(app)
    try:
        record_plugin_changes()
    except Exception:  # never stop start-up over the audit trail; say so in the log
        log.exception("could not compare enabled plugins with the last start")


def panel_context() -> dict[str, Any]:
    from soulspot.api import has_storage

    from .auditlog import recent

    return {"enabled": has_storage(), "events": recent(5)}


def throttle(app: Flask) -> RefusalThrottle:
    guard_checks: guard.Guard = app.extensions[EXTENSION]["guard"]
    return guard_checks.throttle


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
