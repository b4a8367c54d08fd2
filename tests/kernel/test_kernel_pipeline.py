"""The request pipeline the kernel owns: one order of phases for every plugin, whatever
their names or registration order. The kernel logs each step (logger ``soulspot.pipeline``
at DEBUG); these tests read that log for an ordinary request, a probe, a refused request
and an error."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import pytest
from flask import Blueprint, Flask

from soulspot import hookimpl
from soulspot.api import STAGE_GUARD, STAGE_IDENTIFY, Middleware, RequestPhase
from soulspot.pipeline import ordered
from soulspot.types import CONCERN_AUTH, PluginManifest

#: auth off: loopback requests reach views without signing in
NO_AUTH = ["spotify", "library", "collection"]

ORDINARY_BEFORE = [
    ("observability.request", "before"),
    ("sqlite.bind", "before"),
    ("metrics.requests", "before"),
    ("kernel.inflight", "before"),
    ("security.headers", "before"),
    ("security.limits", "before"),
    ("security.tokens", "before"),
    ("security.guard", "before"),
    ("kernel.gate", "before"),
]
AFTER = [
    ("security.cache_control", "after"),
    ("security.headers", "after"),
    ("metrics.requests", "after"),
    ("observability.request", "after"),
    ("kernel.inflight", "teardown"),
]


class FailingPlugin:
    """A third-party plugin with a view that raises (named to sort before every built-in)."""

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: a failing view")

    @hookimpl
    def register_blueprints(self, app: Flask) -> list[Blueprint]:
        bp = Blueprint("aaa_failing", __name__)

        @bp.get("/api/fails")
        def fails() -> str:
            raise RuntimeError("boom")

        return [bp]


def _steps(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    steps = [
        (r.__dict__["phase"], r.__dict__["step"])
        for r in caplog.records
        if r.name == "soulspot.pipeline"
    ]
    caplog.clear()
    return steps


@pytest.fixture
def traced(make_app: Any, caplog: pytest.LogCaptureFixture) -> Any:
    def build(config: dict[str, Any] | None = None) -> Any:
        app = make_app(config, disable=NO_AUTH, plugins=[("aaa_failing", FailingPlugin())])
        caplog.set_level(logging.DEBUG, logger="soulspot.pipeline")
        caplog.clear()
        return app.test_client()

    return build


def test_phase_sequence_of_an_ordinary_request_a_probe_a_refusal_and_an_error(
    traced: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = traced({"plugins": {"security": {"rate_limit_api": "2/minute"}}})

    assert client.get("/api/plugins").status_code == 200
    assert _steps(caplog) == [*ORDINARY_BEFORE, ("kernel.api_plugins", "view"), *AFTER]

    # a probe: only the phases with something to do for it (no database, no metrics, no
    # limits, no gate), but the correlation id, the access line and the security headers
    assert client.get("/health/live").status_code == 200
    assert _steps(caplog) == [
        ("observability.request", "before"),
        ("security.headers", "before"),
        ("observability.live", "view"),
        ("security.headers", "after"),
        ("observability.request", "after"),
    ]

    # refused by a guard: the later phases and the view never run; every after-step does,
    # so measurement and the access line see the refusal
    refused = client.post("/api/plugins", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert _steps(caplog) == [*ORDINARY_BEFORE[:8], ("security.guard", "refused"), *AFTER]

    # an error in the view: the error page goes through every after-step
    assert client.get("/api/fails").status_code == 500
    assert _steps(caplog) == [*ORDINARY_BEFORE, ("aaa_failing.fails", "view"), *AFTER]

    # over the limit (the 3rd routed call to /api/*): refused by the limits phase
    assert client.get("/api/plugins").status_code == 429
    assert _steps(caplog) == [*ORDINARY_BEFORE[:6], ("security.limits", "refused"), *AFTER]


def test_the_order_is_stage_then_name_not_registration(make_app: Any) -> None:
    seen: list[str] = []

    class Plugin:
        def __init__(self, name: str, stage: int) -> None:
            self.name, self.stage = name, stage

        @hookimpl
        def manifest(self) -> PluginManifest:
            return PluginManifest(description="test: records its phase")

        @hookimpl
        def request_phases(self, app: Flask) -> list[RequestPhase]:
            def before() -> None:
                seen.append(self.name)

            return [RequestPhase(self.name, self.stage, before=before)]

    plugins = [
        ("zz", Plugin("zz.guard", STAGE_GUARD + 1)),
        ("mm", Plugin("mm.identify", STAGE_IDENTIFY + 1)),
        ("aa", Plugin("aa.guard", STAGE_GUARD + 1)),
    ]
    app = make_app(disable=NO_AUTH, plugins=plugins)
    app.test_client().get("/api/plugins")
    assert seen == ["mm.identify", "aa.guard", "zz.guard"]
    with pytest.raises(ValueError, match="same name: x"):
        ordered([RequestPhase("x", 1), RequestPhase("x", 2)])


def test_middleware_wraps_in_order_lowest_outermost(make_app: Any) -> None:
    calls: list[str] = []

    def recorder(name: str) -> Any:
        def wrap(inner: Any) -> Any:
            def app(environ: dict[str, Any], start_response: Any) -> Any:
                calls.append(name)
                return inner(environ, start_response)

            return app

        return wrap

    class Plugin:
        @hookimpl
        def manifest(self) -> PluginManifest:
            return PluginManifest(description="test: middleware")

        @hookimpl
        def wsgi_middleware(self, app: Flask) -> list[Middleware]:
            return [
                Middleware("inner", 500, recorder("inner")),
                Middleware("outer", 5, recorder("outer")),
            ]

    app = make_app(disable=NO_AUTH, plugins=[("mw", Plugin())])
    assert app.test_client().get("/health/live").status_code == 200
    assert calls == ["outer", "inner"]


def test_in_maintenance_the_inflight_phase_refuses_before_every_guard(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from soulspot import api

    app = make_app(disable=NO_AUTH)
    client = app.test_client()
    caplog.set_level(logging.DEBUG, logger="soulspot.pipeline")
    with app.app_context(), api.maintenance("a test restore", drain_seconds=1):
        caplog.clear()
        refused = client.post("/api/plugins", headers={"Origin": "https://evil.example"})
        steps = _steps(caplog)
        # a probe is still answered, and never counted
        assert client.get("/health/live").status_code == 200
    # 503, not the CSRF 403: no guard ran, so no refusal was audited while data is replaced
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "30"
    assert steps == [*ORDINARY_BEFORE[:4], ("kernel.inflight", "refused"), *AFTER]


class BrokenAfterPlugin:
    """A third-party phase whose after-step raises, between the guards and the view."""

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: an after-step that fails")

    @hookimpl
    def request_phases(self, app: Flask) -> list[RequestPhase]:
        def after(_response: Any) -> Any:
            raise RuntimeError("after-step failed")

        return [RequestPhase("zz.broken", STAGE_GUARD + 50, after=after)]


def test_a_failing_after_step_leaves_the_others_their_work(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The answer still gets the security headers, the request id, the access line and its
    count: every later after-step runs (it went out bare, twice logged by Flask)."""
    app = make_app(disable=NO_AUTH, plugins=[("zz", BrokenAfterPlugin())])
    client = app.test_client()
    answer = client.get("/api/plugins")
    assert answer.status_code == 200
    assert "Content-Security-Policy" in answer.headers and "X-Request-ID" in answer.headers
    failed = [r for r in caplog.records if r.getMessage() == "request phase after-step failed"]
    assert [r.__dict__["phase"] for r in failed] == ["zz.broken"]
    scraped = client.get("/metrics").get_data(as_text=True)
    assert 'soulspot_http_request_total{method="GET",status="200"}' in scraped


class BrokenAuthPlugin:
    """An auth provider whose session look-up fails (a full disk, a corrupt database)."""

    class Auth:
        def current_user(self) -> Any:
            raise sqlite3.DatabaseError("database disk image is malformed")

        def login_url(self, next_url: str) -> str:
            return "/login"

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: failing auth", provides=[CONCERN_AUTH])

    @hookimpl
    def auth_provider(self, app: Flask) -> Any:
        return self.Auth()


def test_a_failing_session_lookup_still_gets_a_whole_error_page(make_app: Any) -> None:
    """The HTML error page asked the auth provider again while rendering, failed again inside
    the error handler, and the exception left Flask: a bare 500 from the WSGI server."""
    app = make_app(disable=NO_AUTH, plugins=[("zzauth", BrokenAuthPlugin())])
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as `soulspot serve` runs it
    page = app.test_client().get("/", headers={"Accept": "text/html"})
    assert page.status_code == 500
    assert page.mimetype == "text/html" and "<html" in page.get_data(as_text=True).lower()
    assert "Content-Security-Policy" in page.headers and "X-Request-ID" in page.headers
