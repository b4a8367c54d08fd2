"""Hook implementations of the `observability` plugin (the `soulspot.plugins` entry point).

Import-light: Flask, structlog and friends are imported inside the hooks (``soulspot --help``
loads this module).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from soulspot import hookimpl
from soulspot.types import (
    CONCERN_OBSERVABILITY,
    DashboardPanel,
    HealthCheck,
    NavItem,
    PluginManifest,
    RequestPhase,
)

if TYPE_CHECKING:  # pragma: no cover
    from flask import Blueprint, Flask

    from soulspot.types import AuditEvent


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        provides=(CONCERN_OBSERVABILITY,),
        config_model="soulspot_observability.config:ObservabilityConfig",
        description="JSON logs with correlation ids, health endpoints, error reports, profiles.",
    )


@hookimpl
def init_app(app: Flask) -> None:
    from soulspot import api

    from .web import install

    install(app, api.config_for("observability", app))


@hookimpl
def request_phases(app: Flask) -> Iterable[RequestPhase]:
    from .web import request_phase

    return [request_phase(app)]


@hookimpl
def before_serve(app: Flask) -> None:
    from .web import use_stdout

    use_stdout(app)


@hookimpl
def shutdown(app: Flask) -> None:
    from .logs import stop_access_listener

    stop_access_listener()  # every queued access line is written before the process ends


@hookimpl
def register_blueprints(app: Flask) -> Iterable[Blueprint]:
    from .web import bp

    return [bp]


@hookimpl
def nav_items(app: Flask) -> Iterable[NavItem]:
    return [NavItem("Health", "observability.health_page", 800)]


@hookimpl
def dashboard_panels(app: Flask) -> Iterable[DashboardPanel]:
    from .web import panel_context

    return [DashboardPanel("Health", "observability/panel.html", panel_context, order=10)]


@hookimpl
def health_checks(app: Flask) -> Iterable[HealthCheck]:
    from soulspot import api

    from .health import data_dir_check, disk_space_check

    data_dir = api.data_dir(app)
    config = api.config_for("observability", app)
    return [data_dir_check(data_dir), disk_space_check(data_dir, config.min_free_disk_mb)]


@hookimpl
def metrics(app: Flask) -> Iterable[Any]:
    return [_Collector(app)]


@hookimpl
def audit_event(app: Flask, event: AuditEvent) -> None:
    level = logging.INFO if event.outcome == "ok" else logging.WARNING
    logging.getLogger("soulspot.audit").log(
        level,
        "audit",
        extra={
            "audit_event": event.event,
            "outcome": event.outcome,
            "actor": event.actor,
            "ip": event.ip,
            "details": dict(event.details),
            "request_id": event.request_id,
        },
    )


@hookimpl
def job_executed(
    app: Flask, job_id: str, run_id: str, duration: float, error: BaseException | None
) -> None:
    logging.getLogger("soulspot.jobs").log(
        logging.INFO if error is None else logging.WARNING,
        "job finished" if error is None else "job failed",
        extra={
            "job": job_id,
            "request_id": run_id,
            "duration_ms": round(duration * 1000, 2),
            "outcome": "ok" if error is None else "failed",
            "error": None if error is None else type(error).__name__,
        },
    )


class _Collector:
    """``soulspot_ready`` and ``soulspot_data_dir_free_bytes``, computed at scrape time."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def describe(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        yield GaugeMetricFamily("soulspot_ready", "1 when every critical health check passes")
        yield GaugeMetricFamily(
            "soulspot_data_dir_free_bytes", "Free bytes on the data directory's file system"
        )
        yield from _deploy_metrics(None)

    def collect(self) -> Iterator[Any]:
        import shutil

        from prometheus_client.core import GaugeMetricFamily

        from .health import is_ready
        from .web import state

        ready = is_ready(state(self.app).health.run(critical_only=True))
        yield GaugeMetricFamily(
            "soulspot_ready", "1 when every critical health check passes", value=int(ready)
        )
        from soulspot import api

        data_dir = api.data_dir(self.app)
        yield GaugeMetricFamily(
            "soulspot_data_dir_free_bytes",
            "Free bytes on the data directory's file system",
            value=shutil.disk_usage(data_dir).free,
        )
        yield from _deploy_metrics(self.app)


_DEPLOY_METRICS = {
    "soulspot_deploy_last_success_timestamp_seconds": (
        "last_success_timestamp",
        "When soulspot-upgrade last upgraded successfully (0: never recorded)",
    ),
    "soulspot_deploy_last_failure_timestamp_seconds": (
        "last_failure_timestamp",
        "When an upgrade last failed and was rolled back or could not be (0: never)",
    ),
}


def _deploy_metrics(app: Flask | None) -> Iterator[Any]:
    """The last upgrade's outcome (``soulspot deploy record``), read at scrape time: the
    upgrade tool writes it while this process runs, or before it starts."""
    from prometheus_client.core import GaugeMetricFamily

    from soulspot.api import last_deploy

    status: dict[str, Any] = {}
    if app is not None:
        with app.app_context():
            status = last_deploy()
    for name, (key, doc) in _DEPLOY_METRICS.items():
        value = float(status.get(key, 0) or 0) if app is not None else None
        yield GaugeMetricFamily(name, doc, value=value)
