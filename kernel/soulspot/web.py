"""The UI shell and the kernel's own routes: dashboard, plugins page, ``/api/plugins``,
``/api/openapi.json`` (the gate in front of them is :mod:`soulspot.gate`)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    render_template,
)
from pydantic import BaseModel, Field, RootModel

from .context import kernel_state, public, request_id, user_for_page
from .types import NavItem
from .validation import NoParams, PageParams, validate

bp = Blueprint("kernel", __name__)

def install(app: Flask) -> None:
    """UI globals: the template context and placeholders the security plugin replaces."""
    app.jinja_env.globals.setdefault("csp_nonce", lambda: "")
    app.jinja_env.globals.setdefault("csrf_token", lambda: "")
    app.context_processor(_template_context)


def _template_context() -> dict[str, Any]:
    state = kernel_state()
    return {
        "nav": _nav(),
        "current_user": user_for_page(),
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
        for group in kernel_state().hook.nav_items(app=app):
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
    state = kernel_state()
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
    return render_template("soulspot/plugins.html", plugins=kernel_state().plugins)


@bp.get("/api/plugins")
@validate(query=NoParams, response=PluginList, summary="List installed plugins")
def api_plugins(query: NoParams) -> Response:
    # The plugin list is fixed when the app is built: serialise it once per app.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    body = app.extensions.get("soulspot.plugins_json")
    if body is None:
        plugins = [p.as_dict() for p in kernel_state().plugins]
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
