"""Rate limits with flask-limiter: strict on ``/auth/*``, a default for ``/api/*``, per-endpoint
overrides from config, health probes and ``/metrics`` exempt, 429 problem+json with
``Retry-After``, and one ``security.rate_limited`` audit event per client, limit and window
(not one per refused request).

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

from flask import Flask, Response, request
from flask_limiter import Limit, Limiter, RateLimitExceeded, RequestLimit
from limits.storage import MemoryStorage

from soulspot.api import audit
from soulspot.errors import PROBLEM_TYPE_BASE, problem_response

from .config import SecurityConfig

log = logging.getLogger("soulspot.security")

#: Endpoint limits that apply unless ``rate_limits`` names the endpoint.
DEFAULT_ENDPOINT_LIMITS = {"security.csp_report": "30/minute"}

EXEMPT_PREFIXES = ("/health/", "/metrics", "/static/")
EXEMPT_PATHS = frozenset({"/health", "/metrics", "/favicon.ico"})


def client_key() -> str:
    """Who is counted: the client IP (the real one behind trusted proxies, via ProxyFix)."""
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

    def __call__(self, limit: RequestLimit) -> None:
        if self.first_in_window((limit.key,), float(limit.reset_at)):
            audit(
                "security.rate_limited",
                outcome="refused",
                limit=str(limit.limit),
                path=request.path,
                endpoint=request.endpoint,
                method=request.method,
            )
        log.info(
            "rate limit exceeded",
            extra={"limit": str(limit.limit), "path": request.path, "client": client_key()},
        )


class SweepingMemoryStorage(MemoryStorage):
    """``memory://`` with fewer threads: limits' memory storage starts a new 10 ms timer
    thread to sweep expired counters on nearly every hit (a thread start per request under
    load). Counters are already expired when read, so sweeping at most once a second changes
    no decision; it only bounds how long expired keys take memory."""

    STORAGE_SCHEME = ["soulspot-memory"]
    SWEEP_EVERY = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        self._next_sweep = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    def _MemoryStorage__schedule_expiry(self) -> None:  # limits' private hook
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.SWEEP_EVERY
        super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]


def storage_uri(configured: str) -> str:
    """The URI flask-limiter gets: plain ``memory://`` means :class:`SweepingMemoryStorage`."""
    return "soulspot-memory://" if configured == "memory://" else configured


def _exempt() -> bool:
    path = request.path
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)


class ProbeFriendlyLimiter(Limiter):
    """Skips health probes and ``/metrics`` before doing any work: flask-limiter's own
    request filter still walks its limit bookkeeping for exempt requests."""

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        if _exempt():
            return
        super()._check_request_limit(callable_name, in_middleware)


def install(app: Flask, cfg: SecurityConfig) -> Limiter:
    overrides = {**DEFAULT_ENDPOINT_LIMITS, **cfg.rate_limits}
    auth, api, other = cfg.rate_limit_auth, cfg.rate_limit_api, cfg.rate_limit_default

    # One default limit whose value and bucket depend on the request, instead of one limit
    # per area each with an ``exempt_when``: flask-limiter materialises and filters every
    # default limit on every request. Same buckets as separate limits would use: a per-
    # endpoint override counts per endpoint, /auth/* shares "auth", /api/* shares "api",
    # other pages count per endpoint.
    def limit_for_request() -> str:
        endpoint = request.endpoint or ""
        if endpoint in overrides:
            return overrides[endpoint]
        path = request.path
        if path.startswith("/auth/"):
            return auth
        if path.startswith("/api/"):
            return api
        return other

    def bucket(endpoint: str) -> str:
        if endpoint not in overrides:
            path = request.path
            if path.startswith("/auth/"):
                return "auth"
            if path.startswith("/api/"):
                return "api"
        return endpoint

    defaults: list[Any] = [Limit(limit_for_request, scope=bucket, shared=True)]

    limiter = ProbeFriendlyLimiter(
        client_key,
        default_limits=defaults,
        storage_uri=storage_uri(cfg.rate_limit_storage_uri),
        strategy=cfg.rate_limit_strategy,
        headers_enabled=False,
        on_breach=BreachAuditor(),
        key_prefix="soulspot",
        enabled=cfg.rate_limits_enabled,
    )
    limiter.request_filter(_exempt)
    limiter.init_app(app)

    def too_many(exc: RateLimitExceeded) -> Response:
        current = limiter.current_limit
        reset_at = float(current.reset_at) if current is not None else time.time() + 60
        retry_after = max(1, math.ceil(reset_at - time.time()))
        return problem_response(
            429,
            "Too many requests",
            f"Rate limit {exc.limit.limit} exceeded. Try again in {retry_after} s.",
            type_=PROBLEM_TYPE_BASE + "rate-limited",
            headers={"Retry-After": str(retry_after)},
        )

    app.register_error_handler(RateLimitExceeded, too_many)
    return limiter
