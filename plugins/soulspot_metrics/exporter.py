"""Per-app Prometheus registry, prometheus-flask-exporter request metrics and ``/metrics``.

Each app gets its own :class:`CollectorRegistry` (tests build many apps in one process, and
counters then start at zero per app). Request metrics are labelled with the route template
(``/api/items/<int:id>``), never the raw path, so label cardinality stays bounded.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Request, Response, current_app, got_request_exception, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_flask_exporter import PrometheusMetrics

from soulspot.api import is_local_request, public
from soulspot.errors import problem_response

from .config import MetricsConfig

log = logging.getLogger("soulspot.metrics")
EXT = "soulspot_metrics"
UNMATCHED = "unmatched"


bp = Blueprint("metrics", __name__)


@dataclass
class MetricsState:
    registry: CollectorRegistry
    exporter: PrometheusMetrics
    token: str | None
    audit_events: Counter
    job_runs: Counter
    job_duration: Histogram
    exceptions: Counter


def endpoint(req: Request) -> str:
    """Label value for a request: its route template (bounded), ``unmatched`` for 404s.

    The function's name is the label's name (prometheus-flask-exporter's ``group_by``)."""
    rule = req.url_rule
    return rule.rule if rule is not None else UNMATCHED


def install(app: Flask, config: MetricsConfig) -> MetricsState:
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    exporter = PrometheusMetrics(
        app,
        path=None,  # our own view below does the access check
        registry=registry,
        defaults_prefix="soulspot",
        group_by=endpoint,
        buckets=tuple(sorted(config.latency_buckets)),
        # Liveness probes arrive every few seconds and say nothing about users' traffic;
        # counting them would cost every probe a histogram update (see bench/overhead.py).
        excluded_paths=["^/health/live$"],
    )
    state = MetricsState(
        registry=registry,
        exporter=exporter,
        token=config.token.get_secret_value() if config.token is not None else None,
        audit_events=Counter(
            "soulspot_audit_events_total",
            "Audit events by event name and outcome",
            ("event", "outcome"),
            registry=registry,
        ),
        job_runs=Counter(
            "soulspot_job_runs_total",
            "Scheduled job runs by job and outcome",
            ("job", "outcome"),
            registry=registry,
        ),
        job_duration=Histogram(
            "soulspot_job_duration_seconds",
            "Scheduled job run time",
            ("job",),
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
            registry=registry,
        ),
        exceptions=Counter(
            "soulspot_unhandled_exceptions_total",
            "Requests that ended in an unhandled exception (answered with a 500)",
            ("endpoint", "exception"),
            registry=registry,
        ),
    )
    app.extensions[EXT] = state
    return state


def register_plugin_metrics(app: Flask) -> None:
    """Register what every plugin hands over through the ``metrics`` hook."""
    state: MetricsState = app.extensions[EXT]
    kernel = app.extensions["soulspot"]
    for group in kernel.hook.metrics(app=app):
        for collector in group or ():
            try:
                state.registry.register(collector)
            except ValueError as exc:  # duplicate name: keep the first, say so
                log.warning("metric not registered", extra={"error": str(exc)})


def _on_exception(sender: Any, exception: BaseException, **_kw: Any) -> None:
    state = getattr(sender, "extensions", {}).get(EXT)
    if state is None:
        return
    try:
        state.exceptions.labels(endpoint(request), type(exception).__name__).inc()
    except Exception:  # counting must never make an error worse
        log.debug("could not count exception", exc_info=True)


got_request_exception.connect(_on_exception)


def _authorised(state: MetricsState) -> bool:
    if is_local_request():
        return True
    if state.token is None:
        return False
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), state.token.encode()
    )


@bp.get("/metrics")
@public
def metrics_view() -> Response:
    request.prom_do_not_track = True  # type: ignore[attr-defined]  # scrapes are not traffic
    state: MetricsState = current_app.extensions[EXT]
    if not _authorised(state):
        return problem_response(
            401,
            "Metrics need a token",
            "Scrape /metrics from this machine, or send Authorization: Bearer <token> "
            "with [plugins.metrics] token.",
            headers={"WWW-Authenticate": 'Bearer realm="soulspot-metrics"'},
        )
    return Response(
        generate_latest(state.registry), mimetype=None, content_type=CONTENT_TYPE_PLAIN_0_0_4
    )
