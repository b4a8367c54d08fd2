"""Per-app Prometheus registry, request metrics (a request phase) and ``/metrics``.

Each app gets its own :class:`CollectorRegistry` (tests build many apps in one process, and
counters then start at zero per app). Request metrics are labelled with the route template
(``/api/items/<int:id>``), never the raw path, so label cardinality stays bounded.
"""

from __future__ import annotations

import hmac
import logging
import math
from dataclasses import dataclass, field
from timeit import default_timer
from typing import Any

from flask import Blueprint, Flask, Request, Response, g, got_request_exception, request
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

from soulspot import api
from soulspot.api import (
    STAGE_MEASURE,
    RequestPhase,
    exempt_from_limits,
    is_local_request,
    not_measured,
    public,
)
from soulspot.errors import problem_response

from .config import MetricsConfig
from .guesses import MAX_WRONG, WrongTokens

log = logging.getLogger("soulspot.metrics")
EXT = "soulspot_metrics"
UNMATCHED = "unmatched"


bp = Blueprint("metrics", __name__)


@dataclass
class MetricsState:
    registry: CollectorRegistry
    token: str | None
    audit_events: Counter
    job_runs: Counter
    job_duration: Histogram
    exceptions: Counter
    request_duration: Histogram
    requests: Counter
    wrong_tokens: WrongTokens = field(default_factory=WrongTokens)


def endpoint(req: Request) -> str:
    """Label value for a request: its route template (bounded), ``unmatched`` for 404s."""
    rule = req.url_rule
    return rule.rule if rule is not None else UNMATCHED


def install(app: Flask, config: MetricsConfig) -> MetricsState:
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    state = MetricsState(
        registry=registry,
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
        request_duration=Histogram(
            "soulspot_http_request_duration_seconds",
            "HTTP request duration in seconds",
            ("method", "endpoint", "status"),
            buckets=tuple(sorted(config.latency_buckets)),
            registry=registry,
        ),
        requests=Counter(
            "soulspot_http_request_total",
            "Total number of HTTP requests",
            ("method", "status"),
            registry=registry,
        ),
    )
    api.set_state_for(EXT, state, app)
    return state


def request_phase(app: Flask) -> RequestPhase:
    """The measure phase: every answer (the view's, a refusal of a later phase, an error
    page) is timed and counted, except views marked :func:`soulspot.api.not_measured`
    (scrapes, probes, health checks). prometheus_client directly: the documented layer under
    prometheus-flask-exporter, whose hooks cost a tenth of a signed-in API call."""
    state: MetricsState = api.state_for(EXT, app)
    duration = state.request_duration
    total = state.requests

    def before() -> None:
        g.metrics_started = default_timer()

    def after(response: Response) -> Response:
        started = g.pop("metrics_started", None)  # popped: counted once
        if started is None or not api.is_measured(api.request_view()):
            return response
        status = response.status_code
        method = request.method
        duration.labels(method, endpoint(request), status).observe(
            max(default_timer() - started, 0.0)
        )
        total.labels(method, status).inc()
        return response

    # probes are never measured: the phase does not run for them at all
    return RequestPhase(
        "metrics.requests", STAGE_MEASURE, before=before, after=after, probes=False
    )


def register_plugin_metrics(app: Flask) -> None:
    """Register what every plugin hands over through the ``metrics`` hook."""
    state: MetricsState = api.state_for(EXT, app)
    for group in api.hook(app).metrics(app=app):
        for collector in group or ():
            try:
                state.registry.register(collector)
            except ValueError as exc:  # duplicate name: keep the first, say so
                log.warning("metric not registered", extra={"error": str(exc)})


def _on_exception(sender: Any, exception: BaseException, **_kw: Any) -> None:
    try:
        state: MetricsState = api.state_for(EXT, sender)
    except (LookupError, AttributeError, KeyError):
        return  # an app without the metrics plugin
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
@exempt_from_limits
@not_measured  # a scrape is not traffic
def metrics_view() -> Response:
    state: MetricsState = api.state_for(EXT)
    if not _authorised(state):
        client = request.remote_addr or "-"
        left = state.wrong_tokens.refused_for(client)
        if left is not None:
            wait = max(1, math.ceil(left))
            return problem_response(
                429,
                "Too many wrong tokens",
                f"{MAX_WRONG} scrapes without the right token in a minute: try again in "
                f"{wait} s.",
                headers={"Retry-After": str(wait)},
            )
        state.wrong_tokens.wrong(client)
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
