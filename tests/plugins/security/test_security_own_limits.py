"""A plugin view with flask-limiter's own ``@limiter.limit(...)`` gets that limit, once; marked
``@exempt_from_limits`` it spends nothing of SoulSpot's ``/api/*`` bucket (flask-limiter
evaluates a decorated limit inside the view's wrapper, after every request phase, so the
marker is how the guard knows). Its refusal is the same 429 problem+json."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from security_support import NO_AUTH

from soulspot import hookimpl
from soulspot.api import exempt_from_limits
from soulspot.types import PluginManifest


class OwnLimitPlugin:
    """A third-party plugin that limits its own route with flask-limiter, as its docs say."""

    def __init__(self) -> None:
        self.limiter = Limiter(
            key_func=get_remote_address, default_limits=[], storage_uri="memory://"
        )

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: a view with its own flask-limiter limit")

    @hookimpl
    def init_app(self, app: Flask) -> None:
        self.limiter.init_app(app)

    @hookimpl
    def register_blueprints(self, app: Flask) -> list[Blueprint]:
        bp = Blueprint("own_limit", __name__)

        @bp.get("/api/expensive")
        @exempt_from_limits
        @self.limiter.limit("3/minute")
        def expensive() -> dict[str, bool]:
            return {"ok": True}

        @bp.get("/api/unmarked")
        @self.limiter.limit("5/minute")
        def unmarked() -> dict[str, bool]:
            return {"ok": True}

        return [bp]


def test_a_view_with_its_own_flask_limiter_limit_gets_it_once(make_app: Any) -> None:
    app = make_app(
        {"plugins": {"security": {"rate_limit_api": "2/minute"}}},
        disable=NO_AUTH,
        plugins=[("own_limit", OwnLimitPlugin())],
    )
    client = app.test_client()
    # its own 3/minute, counted once per call (not 2/minute, not spent twice per call)
    statuses = [client.get("/api/expensive").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/api/expensive")
    assert refused.mimetype == "application/problem+json"
    assert refused.json["type"].endswith("/rate-limited")
    assert int(refused.headers["Retry-After"]) >= 1
    # SoulSpot's /api/* bucket (2/minute) was never spent by those calls
    assert [client.get("/api/plugins").status_code for _ in range(3)] == [200, 200, 429]


def test_without_the_marker_both_limits_apply_once_each(make_app: Any) -> None:
    app = make_app(
        {"plugins": {"security": {"rate_limit_api": "3/minute"}}},
        disable=NO_AUTH,
        plugins=[("own_limit", OwnLimitPlugin())],
    )
    client = app.test_client()
    # the /api/* bucket (3/minute) and its own 5/minute each spent once per call
    assert [client.get("/api/unmarked").status_code for _ in range(4)] == [200] * 3 + [429]
    assert client.get("/api/plugins").status_code == 429  # the shared bucket is spent
