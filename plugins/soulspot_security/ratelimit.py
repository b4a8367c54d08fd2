"""Rate limits with flask-limiter: strict on ``/auth/*``, a default for ``/api/*``, per-endpoint
overrides from config, health probes and ``/metrics`` exempt, 429 problem+json with
``Retry-After``, and one ``security.rate_limited`` audit event per client, limit and window
(not one per refused request).

Counters live in ``rate_limit_storage_uri`` (``memory://``): right for the one ``soulspot
serve`` process (threads share it). Several processes would each count on their own, so
they need a shared store (``redis://``).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import Limit, Limiter, RateLimitExceeded, RequestLimit
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from werkzeug.exceptions import TooManyRequests

from soulspot import api
from soulspot.api import audit
from soulspot.errors import PROBLEM_TYPE_BASE, problem_response

from .config import SecurityConfig
from .limit_keys import counter_key, never_limited

log = logging.getLogger("soulspot.security")

#: Endpoint limits that apply unless ``rate_limits`` names the endpoint.
DEFAULT_ENDPOINT_LIMITS = {"security.csp_report": "30/minute"}

EXEMPT_PREFIXES = ("/health/", "/metrics", "/static/")
EXEMPT_PATHS = frozenset({"/health", "/metrics", "/favicon.ico"})

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

    def __call__(self, limit: RequestLimit) -> None:
        """flask-limiter's ``on_breach`` (its own evaluation path; see :class:`AreaLimiter`)."""
        self.breached(limit.key, str(limit.limit), float(limit.reset_at))


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

    def text_for(self, endpoint: str, path: str) -> str:
        """The configured string, for flask-limiter's own evaluation (same choice)."""
        return self.texts[self._choose(endpoint, path)[0]]

    def bucket(self, endpoint: str, path: str) -> str:
        return self._choose(endpoint, path)[1]


def _or(text: str | None, fallback: str) -> str:
    return fallback if text is None else text


def _parse(text: str) -> list[RateLimitItem]:
    return sorted(parse_many(text)) if text.strip() else []


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
    if path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES):
        return True
    return never_limited(current_app.view_functions.get(request.endpoint or ""))


class AreaLimiter(Limiter):
    """flask-limiter, with the per-request evaluation our limits need and nothing more.

    Every limit here depends only on the endpoint and the path's area (see
    :class:`LimitRules`), so the request hook looks the limits up in a dict and spends them
    through flask-limiter's public :attr:`~flask_limiter.Limiter.limiter` (the ``limits``
    strategy on the configured storage), instead of running its general resolution
    (decorators, blueprints, exemption scopes, meta limits), which cost about a third of a
    signed-in API request. Counters, windows, strategies and storages stay flask-limiter's
    and limits'. The same rules are also given to flask-limiter as its default limit, so
    should a release stop calling this hook, its own evaluation enforces the same limits.
    """

    def __init__(self, rules: LimitRules, auditor: BreachAuditor, **kwargs: Any) -> None:
        self.rules = rules
        self.auditor = auditor
        super().__init__(**kwargs)

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        if not self.enabled:
            return
        req = request._get_current_object()  # type: ignore[attr-defined]  # every request
        path = req.path
        if path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES):
            return
        endpoint = req.endpoint
        if not endpoint or endpoint.rsplit(".", 1)[-1] == "static":
            return  # no route (404) or a static file: flask-limiter does not count these
        if never_limited(current_app.view_functions.get(endpoint)):
            return  # ending a valid session: see limit_keys
        items, bucket = self.rules.for_request(endpoint, path)
        if not items:
            return
        strategy = self.limiter
        ids = (KEY_PREFIX, counter_key(), bucket)
        for item in items:
            if not strategy.hit(item, *ids):
                reset_at = float(strategy.get_window_stats(item, *ids).reset_time)
                self.auditor.breached(item.key_for(*ids), str(item), reset_at)
                raise RateLimited(str(item), max(1, math.ceil(reset_at - time.time())))


def _drop_response_hooks(app: Flask, limiter: Limiter) -> None:
    """Remove flask-limiter's after-request and teardown hooks: the first adds rate-limit
    headers (off here) and applies ``deduct_when`` (not used), the second clears its
    per-request bookkeeping (kept on the request context, which ends anyway). Each request
    paid ~20 us for them. Should a release register them differently, nothing is removed
    and nothing changes but that cost."""

    def is_limiters(func: Any) -> bool:
        bound = func.args[0] if isinstance(func, functools.partial) and func.args else None
        return bound is limiter or getattr(func, "__self__", None) is limiter

    for registry in (app.after_request_funcs, app.teardown_request_funcs):
        hooks = registry.get(None, [])
        hooks[:] = [func for func in hooks if not is_limiters(func)]


def install(app: Flask, cfg: SecurityConfig) -> Limiter:
    rules = LimitRules(cfg)

    # flask-limiter's own evaluation (only if AreaLimiter's hook is not called): one default
    # limit whose value and bucket depend on the request, the same choice as LimitRules.
    def limit_for_request() -> str:
        return rules.text_for(request.endpoint or "", request.path)

    def bucket(endpoint: str) -> str:
        return rules.bucket(endpoint, request.path)

    defaults: list[Any] = [Limit(limit_for_request, scope=bucket, shared=True)]
    auditor = BreachAuditor()
    limiter = AreaLimiter(
        rules,
        auditor,
        key_func=counter_key,
        default_limits=defaults,
        storage_uri=storage_uri(cfg.rate_limit_storage_uri),
        strategy=cfg.rate_limit_strategy,
        headers_enabled=False,
        on_breach=auditor,
        key_prefix=KEY_PREFIX,
        enabled=cfg.rate_limits_enabled,
    )
    limiter.request_filter(_exempt)
    limiter.init_app(app)
    _drop_response_hooks(app, limiter)

    def rate_limited(exc: RateLimited) -> Response:
        return problem_response(
            429,
            "Too many requests",
            exc.description or "Rate limit exceeded.",
            type_=PROBLEM_TYPE_BASE + "rate-limited",
            headers={"Retry-After": str(exc.retry_after)},
        )

    def too_many(exc: RateLimitExceeded) -> Response:
        """flask-limiter's own refusal (its evaluation path): the same answer."""
        current = limiter.current_limit
        reset_at = float(current.reset_at) if current is not None else time.time() + 60
        retry_after = max(1, math.ceil(reset_at - time.time()))
        return rate_limited(RateLimited(str(exc.limit.limit), retry_after))

    app.register_error_handler(RateLimited, rate_limited)
    app.register_error_handler(RateLimitExceeded, too_many)
    return limiter
