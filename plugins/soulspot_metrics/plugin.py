"""Hook implementations of the `metrics` plugin (the `soulspot.plugins` entry point).

Import-light: prometheus_client and the exporter are imported inside the hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from soulspot import hookimpl
from soulspot.types import PluginManifest

if TYPE_CHECKING:  # pragma: no cover
    from flask import Blueprint, Flask

    from soulspot.types import AuditEvent


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        provides=("metrics",),
        config_model="soulspot_metrics.config:MetricsConfig",
        description="Prometheus metrics at /metrics.",
    )


@hookimpl
def init_app(app: Flask) -> None:
    from .exporter import install

    install(app, app.extensions["soulspot"].settings.plugins["metrics"])


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
    state = app.extensions.get("soulspot_metrics")
    if state is not None:
        state.audit_events.labels(event.event, event.outcome).inc()


@hookimpl
def job_executed(
    app: Flask, job_id: str, run_id: str, duration: float, error: BaseException | None
) -> None:
    state = app.extensions.get("soulspot_metrics")
    if state is not None:
        state.job_runs.labels(job_id, "ok" if error is None else "failed").inc()
        state.job_duration.labels(job_id).observe(duration)
