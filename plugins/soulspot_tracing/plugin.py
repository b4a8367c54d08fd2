"""Hook implementations of the `tracing` plugin (the `soulspot.plugins` entry point).

Import-light: OpenTelemetry is imported only when an exporter is configured, so a default
install neither imports nor pays for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from soulspot import hookimpl
from soulspot.types import CONCERN_TRACING, Middleware, PluginManifest, RequestPhase

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

    from .app_tracing import AppTracing



@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        provides=(CONCERN_TRACING,),
        config_model="soulspot_tracing.config:TracingConfig",
        description=(
            "OpenTelemetry traces of requests, jobs, CLI commands, SQL and outbound calls, "
            "joined to the logs; off until an exporter is configured."
        ),
    )


def _state(app: Flask) -> AppTracing | None:
    from .state import app_state

    return app_state(app)


@hookimpl
def init_app(app: Flask) -> None:
    from soulspot import api

    config = api.config_for("tracing", app)
    exporter = config.effective_exporter()
    if exporter is None:
        return
    from .app_tracing import install

    install(app, config, exporter)


@hookimpl
def request_phases(app: Flask) -> Iterable[RequestPhase]:
    if _state(app) is None:
        return ()
    from .app_tracing import request_phase

    return [request_phase()]


@hookimpl
def wsgi_middleware(app: Flask) -> Iterable[Middleware]:
    from soulspot import api

    if _state(app) is None:
        return ()
    from .app_tracing import middleware

    return middleware(api.kernel_settings(app).trusted_proxies)


@hookimpl(tryfirst=True)
def startup(app: Flask) -> None:
    """Before the store migrates (``tryfirst``), so migration statements are spans too."""
    from soulspot import api

    state = _state(app)
    if state is None or not api.has_storage():
        return
    from .statements import statement_spans

    api.storage().add_statement_listener(statement_spans(state.provider.get_tracer("soulspot")))


@hookimpl
def start_span(
    app: Flask, name: str, attributes: Mapping[str, str | int | float | bool]
) -> AbstractContextManager[Any] | None:
    state = _state(app)
    if state is None:
        return None
    tracer = state.provider.get_tracer("soulspot")
    return tracer.start_as_current_span(name, attributes=dict(attributes))


@hookimpl
def metrics(app: Flask) -> Iterable[Any] | None:
    state = _state(app)
    return None if state is None else state.collectors()


@hookimpl
def dependency_versions(app: Flask) -> Mapping[str, str] | None:
    if _state(app) is None:
        return None
    try:
        return {"opentelemetry-sdk": version("opentelemetry-sdk")}
    except PackageNotFoundError:  # pragma: no cover - installed with the plugin
        return None


@hookimpl
def shutdown(app: Flask) -> None:
    state = _state(app)
    if state is not None:
        state.provider.shutdown()  # flushes what is queued, bounded by the export timeout
