"""Hook implementations of the `metrics` plugin (the `soulspot.plugins` entry point).

Import-light: prometheus_client and the exporter are imported inside the hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from soulspot import hookimpl
from soulspot.types import CONCERN_METRICS, PluginManifest

if TYPE_CHECKING:  # pragma: no cover
    from flask import Blueprint, Flask

    from soulspot.types import AuditEvent, RequestPhase


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        provides=(CONCERN_METRICS,),
        config_model="soulspot_metrics.config:MetricsConfig",
        description="Prometheus metrics at /metrics.",
    )


@hookimpl
def init_app(app: Flask) -> None:
    from soulspot import api

    from .exporter import install

    install(app, api.config_for("metrics", app))


@hookimpl
def request_phases(app: Flask) -> Iterable[RequestPhase]:
    from .exporter import request_phase

    return [request_phase(app)]


def _state(app: Flask) -> Any:
    from soulspot import api

    try:
        return api.state_for("soulspot_metrics", app)
    except LookupError:  # init_app has not run (an app still being built)
        return None


@hookimpl
def register_blueprints(app: Flask) -> Iterable[Blueprint]:
    from .exporter import bp

    return [bp]


@hookimpl
def startup(app: Flask) -> None:
    from .exporter import register_plugin_metrics

    register_plugin_metrics(app)


@hookimpl
def audit_event(app: Flask, event: AuditEvent) -> None:
    state = _state(app)
    if state is not None:
        state.audit_events.labels(event.event, event.outcome).inc()


@hookimpl
def job_executed(
    app: Flask, job_id: str, run_id: str, duration: float, error: BaseException | None
) -> None:
    state = _state(app)
    if state is not None:
        state.job_runs.labels(job_id, "ok" if error is None else "failed").inc()
        state.job_duration.labels(job_id).observe(duration)
