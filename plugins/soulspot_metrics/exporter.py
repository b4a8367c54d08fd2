"""Per-app Prometheus registry, prometheus-flask-exporter request metrics and ``/metrics``.

Each app gets its own :class:`CollectorRegistry` (tests build many apps in one process, and
counters then start at zero per app). Request metrics are labelled with the route template
(``/api/items/<int:id>``), never the raw path, so label cardinality stays bounded.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from timeit import default_timer
from typing import Any

from flask import Blueprint, Flask, Request, Response, current_app, got_request_exception, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    Summary,
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


class RequestMetrics(PrometheusMetrics):  # type: ignore[misc]
    """prometheus-flask-exporter, with its default request metrics recorded by a lean trio
    of request hooks.

    The metrics are the library's, created as it creates them: ``<prefix>_exporter_info``,
    ``<prefix>_http_request_duration_seconds`` (histogram: method, the ``group_by`` label,
    status), ``<prefix>_http_request_total`` and ``<prefix>_http_request_exceptions_total``
    (method, status), with its ``excluded_paths``, and the same accounting for requests
    that end in an exception. The library's own hooks look the context-local ``request`` up
    about 16 times per request and raise and catch four ``AttributeError``s (``hasattr``
    checks for per-view opt-outs SoulSpot does not use): in ``bench/overhead.py`` they were
    the largest single hook of a signed-in API call, ~10 % of the server's time. These read
    the request object once and keep the start time in the WSGI environ.
    """

    _STARTED = "soulspot.metrics.started"

    def export_defaults(
        self,
        buckets: Any = None,
        group_by: Any = "path",
        latency_as_histogram: bool = True,
        prefix: str = "flask",
        app: Flask | None = None,
        **_kwargs: Any,
    ) -> None:
        target = app or self.app
        name = f"{prefix or self._defaults_prefix or 'flask'}_"
        try:
            self.info(
                f"{name}exporter_info",
                "Information about the Prometheus Flask exporter",
                version=self.version,
            )
        except ValueError:
            return  # already exported for this registry
        group = group_by if callable(group_by) else (lambda req: getattr(req, group_by))
        group_name = group_by.__name__ if callable(group_by) else str(group_by)
        kind = Histogram if latency_as_histogram else Summary
        extra = {"buckets": buckets} if latency_as_histogram and buckets is not None else {}
        duration = kind(
            f"{name}http_request_duration_seconds",
            "Flask HTTP request duration in seconds",
            ("method", group_name, "status"),
            registry=self.registry,
            **extra,
        )
        total = Counter(
            f"{name}http_request_total",
            "Total number of HTTP requests",
            ("method", "status"),
            registry=self.registry,
        )
        exceptions = Counter(
            f"{name}http_request_exceptions_total",
            "Total number of HTTP requests which resulted in an exception",
            ("method", "status"),
            registry=self.registry,
        )
        excluded = tuple(self.excluded_paths or ())
        started_key = self._STARTED

        def tracked(req: Request) -> bool:
            return not excluded or not any(p.match(req.path) for p in excluded)

        def before() -> None:
            request.environ[started_key] = default_timer()

        def after(response: Response) -> Response:
            req = request._get_current_object()  # type: ignore[attr-defined]
            started = req.environ.pop(started_key, None)  # popped: counted once
            if started is None or not tracked(req):
                return response
            status = int(response.status_code)
            method = req.method
            duration.labels(method, group(req), status).observe(max(default_timer() - started, 0.0))
            total.labels(method, status).inc()
            return response

        def teardown(exc: BaseException | None = None) -> None:
            if exc is None:
                return
            req = request._get_current_object()  # type: ignore[attr-defined]
            if not tracked(req):
                return
            exceptions.labels(req.method, 500).inc()
            started = req.environ.pop(started_key, None)
            if started is not None:  # no response went through after()
                duration.labels(req.method, group(req), 500).observe(
                    max(default_timer() - started, 0.0)
                )
                total.labels(req.method, 500).inc()

        target.before_request(before)
        target.after_request(after)
        target.teardown_request(teardown)


def install(app: Flask, config: MetricsConfig) -> MetricsState:
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    exporter = RequestMetrics(
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
