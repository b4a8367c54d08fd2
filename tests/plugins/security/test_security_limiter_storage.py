"""``memory://`` rate-limit counters: same decisions, without a sweeper thread per hit."""

from __future__ import annotations

import time
from typing import Any

from security_support import NO_AUTH

from soulspot_security.ratelimit import SweepingMemoryStorage, storage_uri


def test_memory_uri_maps_to_the_sweeping_storage_and_others_pass_through() -> None:
    assert storage_uri("memory://") == "soulspot-memory://"
    assert storage_uri("redis://localhost:6379") == "redis://localhost:6379"


def test_the_app_limiter_counts_in_the_sweeping_storage(make_app: Any) -> None:
    app = make_app({"plugins": {"security": {"rate_limit_api": "3/minute"}}}, disable=NO_AUTH)
    (limiter,) = app.extensions["limiter"]
    assert isinstance(limiter.storage, SweepingMemoryStorage)
    client = app.test_client()
    assert [client.get("/api/plugins").status_code for _ in range(4)] == [200] * 3 + [429]


def test_a_burst_of_hits_starts_at_most_one_sweep_and_expired_counters_reset() -> None:
    storage = SweepingMemoryStorage()
    timers = set()
    for _ in range(200):
        storage.incr("k", expiry=0.2)
        timers.add(id(storage.timer))
    assert storage.get("k") == 200
    # the timer of __init__ plus at most one sweep started by the burst
    assert len(timers) <= 2
    deadline = time.monotonic() + 5
    while storage.get("k") != 0:  # expired on read, whether or not a sweep ran
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert storage.incr("k", expiry=60) == 1


def test_flask_limiters_own_evaluation_spends_the_same_counters(make_app: Any) -> None:
    """AreaLimiter's request hook and flask-limiter's general evaluation (which runs should
    a release stop calling the hook) choose the same limit and the same counter."""
    from flask_limiter import Limiter, RateLimitExceeded

    app = make_app(
        {
            "plugins": {
                "security": {
                    "rate_limit_api": "2/minute",
                    "rate_limits": {"kernel.api_plugins": "1/minute"},
                }
            }
        },
        disable=NO_AUTH,
    )
    (limiter,) = app.extensions["limiter"]
    client = app.test_client()
    assert client.get("/api/plugins").status_code == 200  # through AreaLimiter's hook

    def library_check(path: str) -> bool:
        with app.test_request_context(path, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
            try:
                Limiter._check_request_limit(limiter)
            except RateLimitExceeded:
                return False
            return True

    # the override (1/minute, counted per endpoint) is already spent by the hit above
    assert library_check("/api/plugins") is False
    # the shared /api/* budget: one hit by the library, one by the hook, then refused
    assert library_check("/api/audit") is True
    assert client.get("/api/audit").status_code == 200
    assert library_check("/api/audit") is False
    assert client.get("/api/audit").status_code == 429


def test_flask_limiters_response_hooks_are_not_run(make_app: Any) -> None:
    """Its after-request hook (rate-limit headers: off) and teardown (per-request
    bookkeeping) are dropped; limits, 429 and Retry-After still work."""
    app = make_app({"plugins": {"security": {"rate_limit_api": "1/minute"}}}, disable=NO_AUTH)
    (limiter,) = app.extensions["limiter"]
    hooks = [*app.after_request_funcs.get(None, []), *app.teardown_request_funcs.get(None, [])]
    owners = [getattr(h, "__self__", None) for h in hooks]
    owners += [h.args[0] for h in hooks if getattr(h, "args", None)]
    assert limiter not in owners
    client = app.test_client()
    assert client.get("/api/plugins").status_code == 200
    refused = client.get("/api/plugins")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "X-RateLimit-Limit" not in refused.headers
