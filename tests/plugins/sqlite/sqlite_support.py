"""Helpers for the sqlite plugin's tests: a plugin with migrations, raw file access, the CLI."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from soulspot import hookimpl
from soulspot.types import Migration, PluginManifest

SOULSPOT = str(Path(sys.executable).parent / "soulspot")


def _v1_up(db: Any, _m: Any) -> None:
    db.execute_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")


def _v1_down(db: Any, _m: Any) -> None:
    db.execute_sql("DROP TABLE notes")


def _v2_up(db: Any, migrator: Any) -> None:
    import peewee
    from playhouse.migrate import migrate

    migrate(migrator.add_column("notes", "tag", peewee.TextField(default="none")))


def _v2_down(db: Any, migrator: Any) -> None:
    from playhouse.migrate import migrate

    migrate(migrator.drop_column("notes", "tag"))


def _v3_up(db: Any, _m: Any) -> None:
    db.execute_sql("CREATE INDEX notes_tag ON notes (tag)")


def _v3_down(db: Any, _m: Any) -> None:
    db.execute_sql("DROP INDEX notes_tag")


NOTES_MIGRATIONS = (
    Migration("notes", 1, "notes table", _v1_up, _v1_down),
    Migration("notes", 2, "notes.tag column", _v2_up, _v2_down),
    Migration("notes", 3, "index on notes.tag", _v3_up, _v3_down),
)


class NotesPlugin:
    """A third-party-like plugin with ``head`` schema steps of its own."""

    def __init__(self, head: int = 3, extra: tuple[Migration, ...] = ()) -> None:
        self.head = head
        self.extra = extra

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(requires=("storage",), description="test notes")

    @hookimpl
    def migrations(self) -> tuple[Migration, ...]:
        return NOTES_MIGRATIONS[: self.head] + self.extra


class RecordingBackup:
    """Stands in for the backup concern: records each ``take_backup`` and what the schema
    looked like at that moment (so a test sees the backup came *before* migrating)."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, dict[str, int]]] = []
        self.fail = fail

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest()

    @hookimpl
    def take_backup(self, app: Any, trigger: str) -> str | None:
        store = app.extensions["soulspot"].storage
        self.calls.append((trigger, store.schema_versions()))
        if self.fail:
            raise OSError("disk full")
        return f"backup-{len(self.calls)}"


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), isolation_level=None)


def schema_of(path: Path) -> list[tuple[str, str, str]]:
    conn = raw(path)
    try:
        return conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
            "ORDER BY type, name"
        ).fetchall()
    finally:
        conn.close()


def write_config(tmp: Path, data_dir: Path, extra: str = "") -> Path:
    config = tmp / "soulspot.toml"
    config.write_text(f'[kernel]\ndata_dir = "{data_dir}"\n{extra}')
    return config


def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    clean["PYTHONDONTWRITEBYTECODE"] = "1"
    clean.update(env or {})
    return subprocess.run(
        [SOULSPOT, *args],
        cwd=cwd,
        env=clean,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
