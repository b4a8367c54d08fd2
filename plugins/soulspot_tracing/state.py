"""Where an app keeps its tracing state (``soulspot.api.state_for("tracing")``). Imports no
OpenTelemetry: the plugin's hooks ask it on every app, tracing or not."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from flask import Flask

from soulspot import api

if TYPE_CHECKING:  # pragma: no cover
    from .app_tracing import AppTracing

#: The name this plugin keeps its per-app state under.
PLUGIN = "tracing"


def app_state(app: Flask) -> AppTracing | None:
    """The tracing state of ``app``; ``None`` when it does not trace (no exporter)."""
    try:
        return cast("AppTracing", api.state_for(PLUGIN, app))
    except LookupError:
        return None


def set_app_state(app: Flask, state: AppTracing) -> None:
    api.set_state_for(PLUGIN, state, app)
