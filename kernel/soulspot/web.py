"""The UI shell and the kernel's own routes: dashboard, plugins page, ``/api/plugins``, the
login gate and maintenance mode."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
)
from pydantic import BaseModel, Field, RootModel

from .api import current_user, is_local_request, kernel, public, request_id
from .errors import problem_response, wants_json
from .types import NavItem
from .validation import NoParams, PageParams, validate

bp = Blueprint("kernel", __name__)

#: Paths every page may load without signing in.
_ALWAYS_OPEN = ("static",)


def login_gate() -> Response | None:
    """``None`` when the request may go on; else the refusal (redirect, 401, 403)."""
    # Runs on every request: the real objects once, not the context-local proxies each time.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state = app.extensions["soulspot"]
    endpoint = request.endpoint
    if endpoint is None:
        return None  # no route: let the 404 happen
    view = app.view_functions.get(endpoint)
    if endpoint in _ALWAYS_OPEN or endpoint.endswith(".static"):
        return None
    if view is not None and getattr(view, "soulspot_public", False):
        return None
    if state.auth is None:
        if is_local_request():
            return None
        return problem_response(
            403,
            "Only from this machine",
            "No sign-in plugin is enabled, so SoulSpot answers only on this machine. Enable "
            "an auth plugin (the built-in one is Spotify sign-in) to use it from elsewhere.",
        )
    if current_user() is not None:
        return None
    if wants_json() or request.method not in ("GET", "HEAD"):
        return problem_response(401, "Sign-in required", "Sign in to use SoulSpot.")
    resp = redirect(state.auth.login_url(request.full_path.rstrip("?")))
    return resp  # type: ignore[return-value]


def _is_probe() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "soulspot_probe", False))


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _cross_site() -> bool:
    """A browser says this state-changing request comes from another site."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return True
    origin = request.headers.get("Origin")
    return origin is not None and origin != request.host_url.rstrip("/")


def _before_request() -> Response | None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state = app.extensions["soulspot"]
    if (
        request.method not in _SAFE_METHODS
        and app.config["SOULSPOT_BASELINE_CSRF"]
        and _cross_site()
    ):
        # No plugin provides the 'csrf' concern: the kernel still refuses what a browser
        # marks as cross-site, so a web page cannot drive SoulSpot (the security plugin adds
        # tokens, an allow-list and audit events).
        return problem_response(
            403, "Cross-site request refused", "This request came from another site."
        )
    if state.maintenance_reason is not None and not _is_probe():
        return problem_response(
            503,
            "Maintenance",
            f"SoulSpot is busy: {state.maintenance_reason}. Try again in a minute.",
            headers={"Retry-After": "30"},
        )
    return login_gate()


def install(app: Flask) -> None:
    """Register the kernel's request gate (after plugins' own request hooks) and UI globals."""
    state = app.extensions["soulspot"]
    app.config["SOULSPOT_BASELINE_CSRF"] = not any(
        "csrf" in p.provides for p in state.enabled_plugins()
    )
    app.before_request(_before_request)
    app.jinja_env.globals.setdefault("csp_nonce", lambda: "")
    app.jinja_env.globals.setdefault("csrf_token", lambda: "")
    app.context_processor(_template_context)


def _template_context() -> dict[str, Any]:
    state = kernel()
    return {
        "nav": _nav(),
        "current_user": current_user(),
        "request_id": request_id(),
        "soulspot_version": _version(),
        "auth_enabled": state.auth is not None,
    }


def _version() -> str:
    from . import __version__

    return __version__


def _nav() -> list[NavItem]:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cached = app.extensions.get("soulspot.nav")
    if cached is None:
        items = [
            NavItem("Dashboard", "kernel.dashboard", 0),
            NavItem("Plugins", "kernel.plugins_page", 900),
            NavItem("Settings", "kernel_pages.settings_page", 950),
            NavItem("API docs", "kernel_pages.api_docs", 960),
        ]
        for group in kernel().hook.nav_items(app=app):
            items.extend(group or ())
        cached = app.extensions["soulspot.nav"] = sorted(items, key=lambda i: (i.order, i.label))
    return list(cached)


class PluginOut(BaseModel):
    name: str = Field(description="Plugin (entry point) name.")
    version: str
    distribution: str
    enabled: bool
    provides: list[str]
    requires: list[str]
    hooks: list[str]
    description: str


class PluginList(RootModel[list[PluginOut]]):
    """Every installed plugin, enabled or not."""


@bp.get("/")
@validate(query=PageParams)
def dashboard(query: PageParams) -> str:
    state = kernel()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    panels = [p for group in state.hook.dashboard_panels(app=app) for p in (group or ())]
    rendered = [(p, dict(p.context())) for p in sorted(panels, key=lambda p: (p.order, p.title))]
    return render_template(
        "soulspot/dashboard.html",
        panels=rendered,
        plugin_count=len(state.enabled_plugins()),
    )


@bp.get("/plugins")
@validate(query=PageParams)
def plugins_page(query: PageParams) -> str:
    return render_template("soulspot/plugins.html", plugins=kernel().plugins)


@bp.get("/api/plugins")
@validate(query=NoParams, response=PluginList, summary="List installed plugins")
def api_plugins(query: NoParams) -> Response:
    # The plugin list is fixed when the app is built: serialise it once per app.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    body = app.extensions.get("soulspot.plugins_json")
    if body is None:
        plugins = [p.as_dict() for p in kernel().plugins]
        body = app.extensions["soulspot.plugins_json"] = f"{app.json.dumps(plugins)}\n".encode()
    return app.response_class(body, mimetype=app.json.mimetype)  # type: ignore[no-any-return]


@bp.get("/api/openapi.json")
@validate(query=NoParams, summary="This OpenAPI document")
def openapi_json(query: NoParams) -> Response:
    from .openapi import build

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return jsonify(build(app))


@bp.get("/favicon.ico")
@public
def favicon() -> Response:
    return current_app.send_static_file("favicon.svg")
