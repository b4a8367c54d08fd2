"""The ``requests`` instrumentation patches the module once per process, yet each app has
its own tracer provider (tests build many apps; config differs). It gets
:class:`AppTracerProvider`: its tracers start each span with the provider of the app whose
context is active, or as non-recording spans when that app does not trace."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from flask import current_app, has_app_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.util.types import Attributes

from .state import app_state

_NOOP = trace.NoOpTracer()


def app_provider() -> trace.TracerProvider | None:
    if not has_app_context():
        return None
    state = app_state(current_app._get_current_object())  # type: ignore[attr-defined]
    return None if state is None else state.provider


class AppTracer(trace.Tracer):
    def __init__(self, name: str, version: str | None, schema_url: str | None) -> None:
        self.name, self.version, self.schema_url = name, version, schema_url

    def target(self) -> trace.Tracer:
        provider = app_provider()
        if provider is None:
            return _NOOP
        return provider.get_tracer(self.name, self.version, self.schema_url)

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        return self.target().start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )

    # The base declares its result with the API's private context-manager type; ours is the
    # target tracer's own context manager, which is exactly that type at run time.
    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> AbstractContextManager[Span]:
        return self.target().start_as_current_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
            end_on_exit,
        )


class AppTracerProvider(trace.TracerProvider):
    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace.Tracer:
        return AppTracer(instrumenting_module_name, instrumenting_library_version, schema_url)


_instrumented = False


def instrument_process(
    request_hook: Callable[[Span, Any], None], response_hook: Callable[[Span, Any, Any], None]
) -> None:
    """Patch ``requests`` once for this process (idempotent)."""
    global _instrumented
    if _instrumented:
        return
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    RequestsInstrumentor().instrument(
        tracer_provider=AppTracerProvider(),
        meter_provider=NoOpMeterProvider(),  # Prometheus is the metrics path
        request_hook=request_hook,
        response_hook=response_hook,
    )
    _instrumented = True


def log_ids() -> Mapping[str, str]:
    """``trace_id`` and ``span_id`` of the current span, as the log lines carry them."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
