"""Rate limits with ``limits``: strict on ``/auth/*``, a default for ``/api/*``, per-endpoint
overrides from config, views marked exempt (probes, health, ``/metrics``) not counted, 429
problem+json with ``Retry-After``, and one ``security.rate_limited`` audit event per client,
limit and window (not one per refused request).

Counters live in ``rate_limit_storage_uri`` (``memory://``): right for the one ``soulspot
serve`` process (threads share it). Several processes would each count on their own, so
they need a shared store (``redis://``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import RateLimitExceeded
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import STRATEGIES
from werkzeug.exceptions import TooManyRequests

from soulspot import api
from soulspot.api import audit
from soulspot.errors import PROBLEM_TYPE_BASE, problem_response

from .config import SecurityConfig
from .counters import FixedWindowMemory
from .limit_keys import counter_key, never_limited

log = logging.getLogger("soulspot.security")

#: Endpoint limits that apply unless ``rate_limits`` names the endpoint.
DEFAULT_ENDPOINT_LIMITS = {"security.csp_report": "30/minute"}

#: First part of every counter's key (the storage may be shared with other apps).
KEY_PREFIX = "soulspot"


def client_key() -> str:
    """The client IP (the real one behind trusted proxies, via ProxyFix), for the log. The
    counters belong to :func:`.limit_keys.counter_key` (token, session or address)."""
    return request.remote_addr or "unknown"


class OncePerWindow:
    """Remembers keys until a time: ``first_in_window`` is true once per key and window, so a
    flood of refusals writes one audit event, not thousands."""

    def __init__(self, max_keys: int = 10_000) -> None:
        self._until: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def first_in_window(self, key: tuple[str, ...], reset_at: float) -> bool:
        now = time.time()
        with self._lock:
            until = self._until.get(key)
            if until is not None and now < until:
                return False
            if len(self._until) >= self._max_keys:
                self._until = {k: v for k, v in self._until.items() if v > now}
            self._until[key] = max(reset_at, now + 1)
            return True


class BreachAuditor(OncePerWindow):
    """Audits the first breach of each (client, limit) per window; later refusals in the same
    window are only counted in the log."""

    def breached(self, key: str, limit: str, reset_at: float) -> None:
        if self.first_in_window((key,), reset_at):
            audit(
                "security.rate_limited",
                outcome="refused",
                limit=limit,
                path=request.path,
                endpoint=request.endpoint,
                method=request.method,
            )
        log.info(
            "rate limit exceeded",
            extra={"limit": limit, "path": request.path, "client": client_key()},
        )


class RateLimited(TooManyRequests):
    """A request over its limit: rendered as 429 problem+json with ``Retry-After``."""

    def __init__(self, limit: str, retry_after: int) -> None:
        super().__init__(f"Rate limit {limit} exceeded. Try again in {retry_after} s.")
        self.retry_after = retry_after


class LimitRules:
    """Which limits a request meets and which counter it spends, from config (parsed once):
    a per-endpoint override counts per endpoint, the views marked
    :func:`soulspot.api.sign_in_step` have a bucket each, ``/auth/*`` shares the bucket
    ``auth``, ``/api/*`` shares ``api``, other pages count per endpoint."""

    def __init__(self, cfg: SecurityConfig) -> None:
        overrides = {**DEFAULT_ENDPOINT_LIMITS, **cfg.rate_limits}
        #: the configured strings, by endpoint (overrides) or area ("auth", "api", "")
        self.texts: dict[str, str] = {
            **{f"endpoint:{k}": v for k, v in overrides.items()},
            "auth": cfg.rate_limit_auth,
            "sign_in:start": _or(cfg.rate_limit_sign_in, cfg.rate_limit_auth),
            "sign_in:callback": _or(cfg.rate_limit_sign_in_callback, cfg.rate_limit_auth),
            "api": cfg.rate_limit_api,
            "": cfg.rate_limit_default,
        }
        self.items = {key: _parse(text) for key, text in self.texts.items()}

    def _choose(self, endpoint: str, path: str) -> tuple[str, str]:
        """``(key into texts/items, counter bucket)`` for a request."""
        if f"endpoint:{endpoint}" in self.texts:
            return f"endpoint:{endpoint}", endpoint
        step = api.sign_in_step_of(current_app.view_functions.get(endpoint))
        if step is not None:
            return f"sign_in:{step}", f"sign_in:{step}"
        area = "auth" if path.startswith("/auth/") else "api" if path.startswith("/api/") else ""
        return area, area or endpoint

    def for_request(self, endpoint: str, path: str) -> tuple[list[RateLimitItem], str]:
        key, bucket = self._choose(endpoint, path)
        return self.items[key], bucket


def _or(text: str | None, fallback: str) -> str:
    return fallback if text is None else text


def _parse(text: str) -> list[RateLimitItem]:
    return sorted(parse_many(text)) if text.strip() else []


class RateLimits:
    """The rate-limit step of the guard phase: SoulSpot's limits spent through ``limits``
    directly (the documented layer under flask-limiter: its general per-request resolution
    of decorators, blueprints and exemption scopes cost about a third of a signed-in API
    request, and none of it is needed to look two strings up).

    Counted per API token, session or client address (:mod:`.limit_keys`). Not counted:
    views marked :func:`soulspot.api.exempt_from_limits` (probes, health, scrapes), views
    marked :func:`soulspot.api.ends_session` for a request with a valid session, static
    files and 404s, and requests a flask-limiter ``Limiter`` of another plugin already
    limited (a view with its own ``@limiter.limit``: its limit, once).
    """

    def __init__(self, cfg: SecurityConfig) -> None:
        self.enabled = cfg.rate_limits_enabled
        self.rules = LimitRules(cfg)
        if cfg.rate_limit_storage_uri == "memory://" and cfg.rate_limit_strategy == "fixed-window":
            self.storage: Any = FixedWindowMemory()  # no sweeper threads (counters.py)
        else:
            self.storage = storage_from_string(cfg.rate_limit_storage_uri)
        self.strategy = STRATEGIES[cfg.rate_limit_strategy](self.storage)
        self.auditor = BreachAuditor()

    def check(self) -> None:
        """Spend this request's limits; raises :class:`RateLimited` when one is spent."""
        if not self.enabled:
            return
        endpoint = request.endpoint
        if not endpoint or endpoint == "static" or endpoint.endswith(".static"):
            return
        view = current_app.view_functions.get(endpoint)
        if api.is_exempt_from_limits(view) or never_limited(view):
            return
        if limited_by_flask_limiter():
            return
        path = request.path
        items, bucket = self.rules.for_request(endpoint, path)
        if not items:
            return
        ids = (KEY_PREFIX, counter_key(), bucket)
        for item in items:
            if not self.strategy.hit(item, *ids):
                reset_at = float(self.strategy.get_window_stats(item, *ids).reset_time)
                self.auditor.breached(item.key_for(*ids), str(item), reset_at)
                raise RateLimited(str(item), max(1, math.ceil(reset_at - time.time())))


def limited_by_flask_limiter() -> bool:
    """Whether a flask-limiter ``Limiter`` on this app evaluated a limit for this request
    (its documented ``current_limits``)."""
    return any(limiter.current_limits for limiter in current_app.extensions.get("limiter", ()))


def install(app: Flask, cfg: SecurityConfig) -> RateLimits:
    """The rate-limit step, and the 429 answers (ours and flask-limiter's)."""
    limits = RateLimits(cfg)

    def rate_limited(exc: RateLimited) -> Response:
        return problem_response(
            429,
            "Too many requests",
            exc.description or "Rate limit exceeded.",
            type_=PROBLEM_TYPE_BASE + "rate-limited",
            headers={"Retry-After": str(exc.retry_after)},
        )

    def too_many(exc: RateLimitExceeded) -> Response:
        """A refusal of another plugin's flask-limiter ``Limiter``: the same answer."""
        reset_at = time.time() + 60
        for limiter in current_app.extensions.get("limiter", ()):
            current = limiter.current_limit
            if current is not None and current.breached:
                reset_at = float(current.reset_at)
                limits.auditor.breached(current.key, str(current.limit), reset_at)
                break
        retry_after = max(1, math.ceil(reset_at - time.time()))
        return rate_limited(RateLimited(str(exc.limit.limit), retry_after))

    app.register_error_handler(RateLimited, rate_limited)
    app.register_error_handler(RateLimitExceeded, too_many)
    return limits
