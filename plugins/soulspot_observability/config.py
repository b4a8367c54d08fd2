"""The ``[plugins.observability]`` section."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ObservabilityConfig(BaseModel):
    """Logs, health checks and slow-request profiles."""

    model_config = ConfigDict(extra="forbid")

    log_format: Literal["auto", "json", "console"] = Field(
        "auto",
        description=(
            "'json': one JSON object per line; 'console': coloured lines for people; 'auto': "
            "console when stdout is a terminal, else JSON."
        ),
    )
    log_file: bool = Field(
        False,
        description="Also write JSON log lines to <data_dir>/logs/soulspot.log (size-rotated).",
    )
    log_file_max_mb: int = Field(
        10, ge=1, le=1024, description="Size in MiB at which the log file is rotated."
    )
    log_file_backups: int = Field(
        5, ge=1, le=100, description="How many rotated log files are kept."
    )
    access_log: bool = Field(
        True,
        description="One log line per request: method, path, status, duration, user, request id.",
    )
    health_cache_seconds: float = Field(
        2.0,
        ge=0,
        le=300,
        description=(
            "How long health check results are reused, so a storm of probes runs each check "
            "at most once per period (0: never reuse)."
        ),
    )
    min_free_disk_mb: int = Field(
        200,
        ge=0,
        description=(
            "Readiness fails when the data directory's disk has less free space than this "
            "(MiB); below twice this value /health warns."
        ),
    )
    profile_slow_ms: int = Field(
        0,
        ge=0,
        description=(
            "Profile every request with pyinstrument and keep an HTML report of each one "
            "slower than this many milliseconds in <data_dir>/profiles/ (0: off; profiling "
            "costs time on every request, turn it on while investigating)."
        ),
    )
    profile_keep: int = Field(
        20, ge=1, le=1000, description="How many profile reports are kept (oldest deleted)."
    )
