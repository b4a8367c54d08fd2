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

from .config import TracingConfig
from .export import BoundedExportProcessor
from .logcontext import install_record_factory
from .provider import build_provider
from .routing import PROVIDER_KEY, instrument_process
from .scrub import scrub_span

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


def install(app: Flask, config: TracingConfig, exporter: str, trusted_proxies: int) -> AppTracing:
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    exported, dropped = _counters()
    provider, processor = build_provider(
        config, exporter, on_exported=exported.inc, on_dropped=dropped.inc
    )
    state = AppTracing(provider, processor, exported, dropped)
    app.extensions[PROVIDER_KEY] = state
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
    if trusted_proxies == 0:
        app.wsgi_app = untrusted_trace_context(app.wsgi_app)  # type: ignore[method-assign]
    instrument_process(request_hook, response_hook)
    install_record_factory()

    @app.before_request
    def bind_trace_to_logs() -> None:
        # The request's span (started by the Flask instrumentation's own before_request,
        # registered just above): every line of this request, the access line included,
        # carries its ids. Lines inside child spans get theirs from the record factory.
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            structlog.contextvars.bind_contextvars(
                trace_id=f"{context.trace_id:032x}", span_id=f"{context.span_id:016x}"
            )

    @app.after_request
    def link_request_id(response: Any) -> Any:
        trace.get_current_span().set_attribute("soulspot.request_id", api.request_id())
        return response

    return state
