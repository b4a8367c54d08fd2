"""Tracing for one app: its provider, the Flask instrumentation, the rule for incoming
``traceparent`` headers, the request id on the root span, and export counters."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from flask import Flask
from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span

from soulspot import api
from soulspot.types import STAGE_IDENTIFY, Middleware, RequestPhase

from .config import TracingConfig
from .export import BoundedExportProcessor
from .logcontext import install_record_factory
from .provider import build_provider
from .routing import instrument_process
from .scrub import scrub_span
from .state import set_app_state

#: W3C trace context and baggage headers, as WSGI environ keys.
TRACE_HEADERS = ("HTTP_TRACEPARENT", "HTTP_TRACESTATE", "HTTP_BAGGAGE")


@dataclass
class AppTracing:
    provider: TracerProvider
    processor: BoundedExportProcessor
    exported: Any
    dropped: Any

    def collectors(self) -> Iterable[Any]:
        return (self.exported, self.dropped)


def _counters() -> tuple[Any, Any]:
    from prometheus_client import Counter

    exported = Counter(
        "soulspot_tracing_spans_exported",
        "Spans handed to the trace exporter successfully.",
        registry=None,
    )
    dropped = Counter(
        "soulspot_tracing_spans_dropped",
        "Spans dropped: the export queue was full or the exporter failed.",
        registry=None,
    )
    return exported, dropped


def untrusted_trace_context(wsgi_app: Callable[..., Any]) -> Callable[..., Any]:
    """WSGI middleware: a caller's trace context is honoured only from a trusted proxy (the
    rule for ``X-Forwarded-For``); anyone else starts a new trace."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        for key in TRACE_HEADERS:
            environ.pop(key, None)
        return wsgi_app(environ, start_response)

    return middleware


def request_hook(span: Span, _environ: Any) -> None:
    scrub_span(span)


def response_hook(span: Span, *_args: Any) -> None:
    scrub_span(span)


def install(app: Flask, config: TracingConfig, exporter: str) -> AppTracing:
    """The provider and the Flask instrumentation (an extension: its own request hooks and
    WSGI wrapper, registered before the kernel's pipeline, so the request's span exists
    when the phases run); :func:`request_phase` and :func:`middleware` are the rest."""
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    exported, dropped = _counters()
    provider, processor = build_provider(
        config,
        exporter,
        on_exported=exported.inc,
        on_dropped=dropped.inc,
        secrets=frozenset(api.secret_values(app)),
    )
    state = AppTracing(provider, processor, exported, dropped)
    set_app_state(app, state)
    FlaskInstrumentor().instrument_app(  # type: ignore[no-untyped-call]
        app,
        tracer_provider=provider,
        request_hook=request_hook,
        response_hook=response_hook,
        # Prometheus is the metrics path: the instrumentation's own request metrics go to
        # a no-op meter, and no SQL commenter context is built per request (no ORM reads it).
        meter_provider=NoOpMeterProvider(),
        enable_commenter=False,
    )
    instrument_process(request_hook, response_hook)
    install_record_factory()
    return state


def bind_trace_to_logs() -> None:
    """Every line of this request, the access line included, carries the ids of the
    request's span (lines inside child spans get theirs from the record factory)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        structlog.contextvars.bind_contextvars(
            trace_id=f"{context.trace_id:032x}", span_id=f"{context.span_id:016x}"
        )


def link_request_id(response: Any) -> Any:
    trace.get_current_span().set_attribute("soulspot.request_id", api.request_id())
    return response


def request_phase() -> RequestPhase:
    """After ``observability.request`` (which starts the request's log context), before
    everything else; its after-step runs on every answer, refusals included."""
    return RequestPhase(
        "tracing.request", STAGE_IDENTIFY + 5, before=bind_trace_to_logs, after=link_request_id
    )


def middleware(trusted_proxies: int) -> list[Middleware]:
    """Outside the Flask instrumentation's own WSGI wrapper, so it never sees a stripped
    header: a caller's trace context counts only from a trusted proxy."""
    if trusted_proxies > 0:
        return []
    return [Middleware("tracing.untrusted_trace_context", 50, untrusted_trace_context)]
