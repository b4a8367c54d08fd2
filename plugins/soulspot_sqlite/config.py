"""The ``[plugins.sqlite]`` config section."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SqliteConfig(BaseModel):
    """Settings of the SQLite store (the database is always ``<data_dir>/soulspot.db``)."""

    model_config = ConfigDict(extra="forbid")

    synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = Field(
        "NORMAL",
        description=(
            "SQLite `PRAGMA synchronous`. NORMAL (with WAL) never corrupts the database and "
            "keeps every committed write across a crash of SoulSpot; FULL also keeps the last "
            "commits across a power cut, at some write speed."
        ),
    )
    busy_timeout_ms: int = Field(
        5000,
        ge=0,
        le=600_000,
        description="How long SQLite itself waits for another writer's lock (PRAGMA busy_timeout).",
    )
    lock_retry_seconds: float = Field(
        30.0,
        ge=0,
        le=600,
        description=(
            "After busy_timeout, how long a locked write is retried with growing back-off "
            "before it fails (users never see 'database is locked' within this budget)."
        ),
    )
    max_connections: int = Field(
        32,
        ge=2,
        le=256,
        description="Most pooled connections open at once (one per busy thread).",
    )
    auto_migrate: bool = Field(
        True,
        description=(
            "Apply pending schema migrations at start-up (after a backup when the backup "
            "plugin is enabled). false: run `soulspot db upgrade` yourself; until then "
            "readiness fails."
        ),
    )
    session_cache_seconds: float = Field(
        2.0,
        ge=0,
        le=60,
        description=(
            "How long a session read from the database is served from memory. Sign-out, "
            "revocation and expiry take effect at once, also when another process (soulspot "
            "sessions revoke) ended the session; other changes made by another process "
            "within this many seconds. 0: read the database on every request."
        ),
    )
    slow_query_ms: float = Field(
        100.0,
        ge=0,
        description=(
            "Queries slower than this are logged (SQL without parameter values, request id) "
            "to the soulspot.sqlite logger and counted in soulspot_db_slow_queries_total."
        ),
    )
