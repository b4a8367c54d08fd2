"""Helpers for the backup plugin's tests: small real plugins registered in code."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from soulspot import hookimpl
from soulspot.types import BackupSource, Migration, PluginManifest, StagedRestore

#: Plugins the backup tests never need (sign-in would gate every page).
DISABLE = ["spotify", "library", "collection"]  # the library needs the auth concern


def _create_rows(db: Any, _migrator: Any) -> None:
    db.execute_sql(
        "CREATE TABLE rows_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value INTEGER)"
    )


def _drop_rows(db: Any, _migrator: Any) -> None:
    db.execute_sql("DROP TABLE rows_items")


def _add_note(db: Any, _migrator: Any) -> None:
    db.execute_sql("ALTER TABLE rows_items ADD COLUMN note TEXT")


def _drop_note(db: Any, _migrator: Any) -> None:
    db.execute_sql("ALTER TABLE rows_items DROP COLUMN note")


class RowsPlugin:
    """A plugin with its own table ``rows_items``, at schema version 1 or 2."""

    def __init__(self, version: int = 1) -> None:
        self.version = version

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test rows")

    @hookimpl
    def migrations(self) -> Iterable[Migration]:
        steps = [Migration("rows", 1, "rows table", _create_rows, _drop_rows)]
        if self.version >= 2:
            steps.append(Migration("rows", 2, "note column", _add_note, _drop_note))
        return steps


class FileSource:
    """A plugin contributing one file as a backup source (``sensitive`` for keys)."""

    def __init__(self, path: Path, name: str = "keyfile", sensitive: bool = True) -> None:
        self.path = path
        self.name = name
        self.sensitive = sensitive

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test file source")

    @hookimpl
    def backup_sources(self, app: Any) -> Iterable[BackupSource]:
        def snapshot(dest: Path) -> None:
            (dest / self.path.name).write_bytes(self.path.read_bytes())

        def restore(src: Path) -> None:
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_bytes((src / self.path.name).read_bytes())
            os.replace(tmp, self.path)

        def verify(src: Path) -> list[str]:
            return [] if (src / self.path.name).exists() else ["file missing"]

        return [BackupSource(self.name, snapshot, restore, verify, sensitive=self.sensitive)]


class KillSource:
    """Kills its own process with SIGKILL in ``stage`` (``verify``: the check step,
    ``stage``: staging beside the live files, ``restore``: the swap): the injected failure
    point of the killed-restore tests. ``first`` puts it before every other source, else
    after them."""

    def __init__(self, stage: str, first: bool, armed_file: Path) -> None:
        self.stage = stage
        self.armed_file = armed_file
        self.first = first

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test kill point")

    def _source(self) -> BackupSource:
        def maybe_die(stage: str) -> None:
            if stage == self.stage and self.armed_file.exists():
                os.kill(os.getpid(), signal.SIGKILL)

        def snapshot(dest: Path) -> None:
            (dest / "marker").write_text("kill point\n")

        def restore(_src: Path) -> None:
            maybe_die("restore")

        def verify(_src: Path) -> list[str]:
            maybe_die("verify")
            return []

        def stage(_src: Path) -> StagedRestore:
            maybe_die("stage")
            return StagedRestore(swap=lambda: maybe_die("restore"), discard=lambda: None)

        return BackupSource("killpoint", snapshot, restore, verify, stage=stage)

    @hookimpl(tryfirst=True)
    def backup_sources(self, app: Any) -> Iterable[BackupSource]:
        return [self._source()] if self.first else []


class KillSourceLast(KillSource):
    @hookimpl(trylast=True)
    def backup_sources(self, app: Any) -> Iterable[BackupSource]:
        return [self._source()]


def insert_rows(app: Any, count: int, start: int = 0) -> None:
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection(), store.write_transaction():
        store.database.execute_sql(
            "WITH RECURSIVE seq(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM seq WHERE i < ?) "
            "INSERT INTO rows_items (id, name, value) SELECT i, 'row ' || i, i * 7 FROM seq",
            (start + 1, start + count),
        )


def all_rows(app: Any) -> list[tuple[Any, ...]]:
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection():
        cur = store.database.execute_sql("SELECT id, name, value FROM rows_items ORDER BY id")
        return [tuple(r) for r in cur.fetchall()]


def csrf_from(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert match is not None, "no csrf_token in the page"
    return match.group(1)
