"""The ``sqlite`` plugin's own schema steps: the kernel stores' tables.

Migrations are frozen history: they spell out their DDL instead of using the current models,
so a later change of a model never changes what an old step did.
"""

from __future__ import annotations

from typing import Any

from soulspot.types import Migration

PLUGIN = "sqlite"

_V1_UP = (
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY NOT NULL,
        user_id TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_seen REAL NOT NULL,
        expires_at REAL NOT NULL,
        ip TEXT,
        user_agent TEXT,
        data TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX sessions_user_id ON sessions (user_id)",
    "CREATE INDEX sessions_expires_at ON sessions (expires_at)",
    """CREATE TABLE audit_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time REAL NOT NULL,
        event TEXT NOT NULL,
        outcome TEXT NOT NULL,
        actor TEXT,
        ip TEXT,
        user_agent TEXT,
        request_id TEXT,
        details TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX audit_events_time ON audit_events (time)",
    "CREATE INDEX audit_events_event_time ON audit_events (event, time)",
    # Append-only, enforced by the database itself: no statement can change an event.
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
    """CREATE TABLE settings (
        key TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL,
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE cache_entries (
        key TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL,
        expires_at REAL NOT NULL
    )""",
    "CREATE INDEX cache_entries_expires_at ON cache_entries (expires_at)",
    """CREATE TABLE health_probe (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        checked_at REAL NOT NULL
    )""",
)

_V1_DOWN = (
    "DROP TABLE health_probe",
    "DROP TABLE cache_entries",
    "DROP TABLE settings",
    "DROP TRIGGER audit_events_append_only",
    "DROP TABLE audit_events",
    "DROP TABLE sessions",
)


def _run(statements: tuple[str, ...]) -> Any:
    def step(db: Any, _migrator: Any) -> None:
        for sql in statements:
            db.execute_sql(sql)

    return step


MIGRATIONS = (
    Migration(
        plugin=PLUGIN,
        version=1,
        name="kernel stores: sessions, audit events, settings, cache",
        upgrade=_run(_V1_UP),
        downgrade=_run(_V1_DOWN),
    ),
)
