"""Requests with a personal API token (``Authorization: Bearer ssp_...``): checked before CSRF
and the kernel's login gate.

- an unknown, revoked or expired token: 401 with ``WWW-Authenticate: Bearer`` (counted as a
  refusal, see :mod:`.audit_throttle`), never a fall-back to the cookie session;
- a ``read`` token on anything but GET/HEAD/OPTIONS: 403;
- more than ``api_token_rate_limit`` requests of one token: 429 (per token, not per address,
  so a script never spends the owner's budget, nor the owner the script's);
- every request of a ``write`` token is audited (``api_token.used``);
- a token request is exempt from CSRF: it carries no cookie, and a web page cannot make a
  browser send an ``Authorization`` header cross-site without a CORS preflight.

Bearer tokens without the ``ssp_`` prefix are left alone (the metrics scrape token).
"""

from __future__ import annotations

import math
import time
from typing import Any, cast

from flask import Response, g, request
from limits import RateLimitItem, parse_many
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

from soulspot.api import audit, bearer_token, has_storage
from soulspot.errors import PROBLEM_TYPE_BASE, problem_response
from soulspot.types import User

from . import api_tokens
from .audit_throttle import RefusalThrottle
from .refusals import refusal, too_many_refused

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: ``g`` key of this request's checked token (this plugin's own).
_G_KEY = "soulspot_security_api_token"


def checked_token() -> api_tokens.TokenInfo | None:
    """The token this request was let in with (after :class:`TokenGate`), else ``None``."""
    return cast(api_tokens.TokenInfo | None, g.get(_G_KEY))


def token_info(token: str) -> api_tokens.TokenInfo | None:
    """The live token ``token`` is (looked up once per request), or ``None``."""
    if _G_KEY in g:
        return checked_token()
    info = api_tokens.lookup(token) if has_storage() else None
    setattr(g, _G_KEY, info)
    return info


def user_for(token: str) -> User | None:
    """The ``user_from_token`` hook: the user a live token of ours stands for."""
    if not token.startswith(api_tokens.PREFIX):
        return None
    info = token_info(token)
    if info is None:
        return None
    return User(
        id=info.user_id,
        display_name=f"{info.display_name} (API token {info.name})",
        is_owner=info.is_owner,
    )


class TokenGate:
    """The request step of token requests (one per app; the ``security.tokens`` phase).
    Its counters share the rate limits' storage."""

    def __init__(self, limit: str, storage: Storage, throttle: RefusalThrottle) -> None:
        self.items: list[RateLimitItem] = sorted(parse_many(limit)) if limit.strip() else []
        self.limiter = FixedWindowRateLimiter(storage)
        self.throttle = throttle

    def __call__(self) -> Response | None:
        token = bearer_token()
        if token is None or not token.startswith(api_tokens.PREFIX):
            return None
        info = token_info(token)
        if info is None:
            return self._refuse(401, "invalid-token", "Unknown, revoked or expired API token.")
        if info.scope == "read" and request.method not in SAFE_METHODS:
            return self._refuse(
                403,
                "read-only-token",
                f"The API token {info.name!r} has scope 'read': it may only GET.",
            )
        for item in self.items:
            if not self.limiter.hit(item, "soulspot-api-token", info.id):
                reset = self.limiter.get_window_stats(item, "soulspot-api-token", info.id)
                retry = max(1, math.ceil(float(reset.reset_time) - time.time()))
                return problem_response(
                    429,
                    "Too many requests",
                    f"API token {info.name!r} is over its limit of {item}. Try again in {retry} s.",
                    type_=PROBLEM_TYPE_BASE + "rate-limited",
                    headers={"Retry-After": str(retry)},
                )
        api_tokens.touch(info)
        if info.scope == "write":
            audit(
                "api_token.used",
                actor=info.user_id,
                id=info.id,
                name=info.name,
                method=request.method,
                path=request.path,
            )
        return None

    def _refuse(self, status: int, reason: str, detail: str) -> Response:
        decision = refusal(self.throttle, "security.api_token_refused", reason, None)
        if decision.retry_after is not None:
            return too_many_refused(decision.retry_after)
        if decision.audit:
            audit(
                "security.api_token_refused",
                outcome="refused",
                reason=reason,
                method=request.method,
                path=request.path,
            )
        headers: dict[str, Any] = {}
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return problem_response(
            status,
            "API token refused",
            detail,
            type_=PROBLEM_TYPE_BASE + "api-token",
            headers=headers,
            reason=reason,
        )

