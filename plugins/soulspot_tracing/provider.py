"""Build one app's tracer provider from ``[plugins.tracing]``: resource, parent-based
ratio sampler, exporter, and the bounded export queue (batched as the SDK's variables
``OTEL_BSP_SCHEDULE_DELAY`` and ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` say, else as its
defaults)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from opentelemetry.sdk.environment_variables import (
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_SCHEDULE_DELAY,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from .config import TracingConfig
from .export import BATCH_SIZE, SCHEDULE_DELAY_MS, BoundedExportProcessor, Counter


def env_number(env: Mapping[str, str], name: str, default: int) -> int:
    """A positive integer SDK variable; unset or malformed: the SDK's default."""
    try:
        value = int(env.get(name, "").strip())
    except ValueError:
        return default
    return value if value > 0 else default


def parse_headers(text: str) -> dict[str, str]:
    """``name=value,name2=value2`` (the OTEL_EXPORTER_OTLP_HEADERS form) as a mapping."""
    headers: dict[str, str] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            headers[name.strip()] = value.strip()
    return headers


def build_exporter(config: TracingConfig, exporter: str) -> SpanExporter:
    if exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    headers = parse_headers(config.headers.get_secret_value()) if config.headers else None
    return OTLPSpanExporter(
        endpoint=config.endpoint,  # None: the SDK reads OTEL_EXPORTER_OTLP_* or its default
        headers=headers,
        timeout=config.export_timeout_seconds,
    )


def build_provider(
    config: TracingConfig,
    exporter: str,
    *,
    on_exported: Counter,
    on_dropped: Counter,
    env: Mapping[str, str] | None = None,
    secrets: frozenset[str] = frozenset(),
) -> tuple[TracerProvider, BoundedExportProcessor]:
    variables = os.environ if env is None else env
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES under what we pass.
    resource = Resource.create(
        {**config.resource_attributes, SERVICE_NAME: config.effective_service_name(env)}
    )
    provider = TracerProvider(
        resource=resource,
        sampler=ParentBased(TraceIdRatioBased(config.effective_sample_ratio(env))),
    )
    processor = BoundedExportProcessor(
        build_exporter(config, exporter),
        queue_size=config.effective_queue_size(env),
        on_exported=on_exported,
        on_dropped=on_dropped,
        batch_size=env_number(variables, OTEL_BSP_MAX_EXPORT_BATCH_SIZE, BATCH_SIZE),
        schedule_delay_ms=env_number(variables, OTEL_BSP_SCHEDULE_DELAY, SCHEDULE_DELAY_MS),
        secrets=secrets,
    )
    provider.add_span_processor(processor)
    return provider, processor
