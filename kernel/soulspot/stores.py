"""The storage concern's contract: what other plugins may ask the store for.

The storage plugin returns an object satisfying :class:`Storage` from the ``storage`` hook;
other plugins reach it through :func:`soulspot.api.storage` and never import the storage
plugin. Another store (say, PostgreSQL) can be swapped in by implementing these protocols.
Their own tables, plugins declare as peewee models on :data:`soulspot.db.database` and create
through the ``migrations`` hook.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .types import AuditEvent


@dataclass(frozen=True)
class SessionRecord:
    """A server-side session. ``id`` is what the store keys on: the auth plugin passes a hash
    of the cookie value, so a leaked database does not hand out live sessions."""

    id: str
    user_id: str
    created_at: dt.datetime
    last_seen: dt.datetime
    expires_at: dt.datetime
    ip: str | None = None
    user_agent: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class SessionStore(Protocol):
    def create(self, record: SessionRecord) -> None: ...
    def get(self, session_id: str) -> SessionRecord | None: ...
    def touch(self, session_id: str, when: dt.datetime) -> None: ...
    def update_data(self, session_id: str, data: Mapping[str, Any]) -> None: ...
    def delete(self, session_id: str) -> bool: ...
    def delete_for_user(self, user_id: str) -> int: ...
    def list_active(self, now: dt.datetime) -> list[SessionRecord]: ...
    def purge_expired(self, now: dt.datetime, idle_cutoff: dt.datetime) -> int:
        """Delete sessions past ``expires_at`` or last seen before ``idle_cutoff``."""
        ...

    def count_active(self, now: dt.datetime) -> int: ...


@runtime_checkable
class AuditStore(Protocol):
    """Append-only: there is no way to change or delete one event; only retention prunes."""

    def append(self, event: AuditEvent) -> None: ...
    def query(
        self,
        *,
        event: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[AuditEvent]:
        """Newest first."""
        ...

    def count(
        self,
        *,
        event: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> int: ...
    def event_names(self) -> list[str]: ...
    def prune_before(self, cutoff: dt.datetime) -> int: ...


@runtime_checkable
class SettingsStore(Protocol):
    """Small key/value settings that the owner changes at run time (JSON-able values)."""

    def get(self, key: str, default: Any = None) -> Any: ...
    def set(self, key: str, value: Any) -> None: ...
    def delete(self, key: str) -> bool: ...


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    expired: int


@runtime_checkable
class Cache(Protocol):
    """A TTL cache backed by the store (for Spotify API responses and similar)."""

    def get(self, key: str) -> Any | None: ...
    def set(self, key: str, value: Any, ttl_seconds: float) -> None: ...
    def delete(self, key: str) -> bool: ...
    def stats(self) -> CacheStats: ...


#: ``listener(sql, seconds, error)``: called after every statement the store ran, on the
#: thread that ran it (so the current request or job is still the context). ``sql`` has
#: placeholders, never parameter values.
StatementListener = Callable[[str, float, BaseException | None], None]


@runtime_checkable
class Storage(Protocol):
    """Everything the storage concern offers other plugins."""

    sessions: SessionStore
    audit: AuditStore
    settings: SettingsStore
    cache: Cache

    @property
    def database(self) -> Any:
        """The peewee database behind :data:`soulspot.db.database`."""
        ...

    @property
    def path(self) -> Path | None:
        """The database file, when there is one."""
        ...

    def write_transaction(self) -> AbstractContextManager[None]:
        """A short write transaction (``BEGIN IMMEDIATE`` on SQLite) that retries a transient
        lock with bounded backoff. Use it for every read-then-write."""
        ...

    def connection(self) -> AbstractContextManager[None]:
        """A connection for work outside a request (scheduler jobs, CLI commands)."""
        ...

    def schema_versions(self) -> dict[str, int]:
        """Applied schema version per plugin."""
        ...

    def head_versions(self) -> dict[str, int]:
        """Newest schema version per plugin that the installed code knows."""
        ...

    def upgrade(self) -> list[str]:
        """Apply every pending migration; returns what was applied."""
        ...

    def add_statement_listener(self, listener: StatementListener) -> None:
        """Call ``listener`` after every statement from now on (the tracing concern makes a
        span of each). Listeners must be cheap and must not raise."""
        ...
