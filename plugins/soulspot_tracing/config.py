"""The ``[plugins.tracing]`` section.

Keys left unset fall back to the OpenTelemetry SDK's standard ``OTEL_*`` environment
variables, exactly as the SDK reads them; a key set in our config (file or ``SOULSPOT__``
env) wins over them. :meth:`TracingConfig.config_origins` tells ``soulspot config show``
which variable a value came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

Exporter = Literal["otlp-http", "console"]

#: Our key -> the SDK's variables for it, in the SDK's order of preference.
OTEL_VARIABLES: dict[str, tuple[str, ...]] = {
    "exporter": ("OTEL_TRACES_EXPORTER",),
    "endpoint": ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    "headers": ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"),
    "service_name": ("OTEL_SERVICE_NAME",),
    "sample_ratio": ("OTEL_TRACES_SAMPLER_ARG",),
    "resource_attributes": ("OTEL_RESOURCE_ATTRIBUTES",),
    "queue_size": ("OTEL_BSP_MAX_QUEUE_SIZE",),
}

#: OTEL_TRACES_EXPORTER values we can honour (the SDK's names) -> ours.
_SDK_EXPORTERS: dict[str, Exporter] = {"otlp": "otlp-http", "console": "console"}


class TracingConfig(BaseModel):
    """OpenTelemetry tracing. Nothing is instrumented, and nothing costs, until an exporter
    is configured here or through ``OTEL_TRACES_EXPORTER``."""

    model_config = ConfigDict(extra="forbid")

    exporter: Exporter | None = Field(
        None,
        description=(
            "Where spans go: 'otlp-http' (OTLP over HTTP/protobuf to `endpoint`: Jaeger, "
            "Grafana Tempo, an OpenTelemetry Collector) or 'console' (JSON on stderr). Unset: "
            "tracing is off unless OTEL_TRACES_EXPORTER is 'otlp' or 'console'."
        ),
    )
    endpoint: str | None = Field(
        None,
        description=(
            "OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces. Unset: "
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT, or the SDK's "
            "default http://localhost:4318/v1/traces."
        ),
    )
    headers: SecretStr | None = Field(
        None,
        description=(
            "Headers sent with every export, as 'name=value,name2=value2' (an API key of a "
            "hosted backend). A secret: prefer SOULSPOT__TRACING__HEADERS_FILE."
        ),
    )
    service_name: str = Field(
        "soulspot",
        min_length=1,
        description="service.name of every span (OTEL_SERVICE_NAME applies when this is unset).",
    )
    sample_ratio: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description=(
            "Share of new traces recorded (parent-based: a request whose trusted caller "
            "sampled it is always recorded)."
        ),
    )
    resource_attributes: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Extra resource attributes (deployment.environment = 'home'); merged over "
            "OTEL_RESOURCE_ATTRIBUTES."
        ),
    )
    queue_size: int = Field(
        2048,
        ge=16,
        le=1_000_000,
        description=(
            "Finished spans kept waiting for the exporter; past it spans are dropped and "
            "counted (soulspot_tracing_spans_dropped_total), never blocking a request "
            "(OTEL_BSP_MAX_QUEUE_SIZE applies when this is unset)."
        ),
    )
    export_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="How long one export may take before it is given up."
    )

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (OTLP over HTTP)")
        return value

    def _env(self, key: str, env: Mapping[str, str]) -> tuple[str, str] | None:
        """``(variable, value)`` of the SDK variable that sets ``key``, when our config
        leaves it unset."""
        if key in self.model_fields_set:
            return None
        for name in OTEL_VARIABLES.get(key, ()):
            value = env.get(name, "").strip()
            if value:
                return name, value
        return None

    def config_origins(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """Where keys left unset here really come from (for ``soulspot config show``)."""
        env = os.environ if env is None else env
        origins: dict[str, str] = {}
        for key in OTEL_VARIABLES:
            found = self._env(key, env)
            if found is not None:
                origins[key] = f"env {found[0]} (OpenTelemetry SDK)"
        return origins

    def effective_exporter(self, env: Mapping[str, str] | None = None) -> Exporter | None:
        if self.exporter is not None:
            return self.exporter
        found = self._env("exporter", os.environ if env is None else env)
        return _SDK_EXPORTERS.get(found[1].lower()) if found else None

    def effective_service_name(self, env: Mapping[str, str] | None = None) -> str:
        found = self._env("service_name", os.environ if env is None else env)
        return found[1] if found else self.service_name

    def effective_sample_ratio(self, env: Mapping[str, str] | None = None) -> float:
        found = self._env("sample_ratio", os.environ if env is None else env)
        if found is None:
            return self.sample_ratio
        try:
            return min(1.0, max(0.0, float(found[1])))
        except ValueError:
            return self.sample_ratio

    def effective_queue_size(self, env: Mapping[str, str] | None = None) -> int:
        found = self._env("queue_size", os.environ if env is None else env)
        if found is None:
            return self.queue_size
        try:
            return max(16, int(found[1]))
        except ValueError:
            return self.queue_size
