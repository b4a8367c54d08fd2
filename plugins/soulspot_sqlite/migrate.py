"""Schema migrations of every plugin: collect, check, apply, roll back.

Each plugin contributes ``soulspot.types.Migration`` steps through the ``migrations`` hook,
versioned from 1 without gaps. The applied version per plugin lives in ``schema_versions``.
Each step (its DDL and the version bump) runs in one ``BEGIN IMMEDIATE`` transaction: SQLite
DDL is transactional, so a failing step leaves the schema as it was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soulspot.api import span
from soulspot.plugins import PluginError
from soulspot.types import Migration

from .schema import PLUGIN

log = logging.getLogger("soulspot.sqlite")

BOOKKEEPING_DDL = """CREATE TABLE IF NOT EXISTS schema_versions (
    plugin TEXT PRIMARY KEY NOT NULL,
    version INTEGER NOT NULL,
    updated_at REAL NOT NULL
)"""


class MigrationError(PluginError):
    """A migration problem that stops start-up or a ``soulspot db`` command (exit 2)."""


class SchemaTooNewError(MigrationError):
    """The database was written by a newer SoulSpot (or a newer plugin)."""


@dataclass(frozen=True)
class Step:
    """One applied or rolled-back migration, for reports and the audit trail."""

    plugin: str
    version: int
    name: str
    direction: str  # "upgrade" | "downgrade"

    def __str__(self) -> str:
        arrow = "->" if self.direction == "upgrade" else "<-"
        return f"{self.plugin} {arrow} {self.version}: {self.name}"


def collect(hook: Any) -> dict[str, list[Migration]]:
    """Every plugin's migrations, checked: named after the plugin, versions 1..N."""
    by_plugin: dict[str, list[Migration]] = {}
    for impl in hook.migrations.get_hookimpls():
        owner = impl.plugin_name
        try:
            steps = list(impl.function() or ())
        except Exception as exc:
            raise MigrationError(
                f"plugin error: plugin {owner!r}: its migrations hook raised "
                f"{type(exc).__name__}: {exc}"
            ) from None
        for step in steps:
            if not isinstance(step, Migration):
                raise MigrationError(
                    f"plugin error: plugin {owner!r}: its migrations hook returned {step!r}; "
                    "expected soulspot.types.Migration objects"
                )
            if step.plugin != owner:
                raise MigrationError(
                    f"plugin error: plugin {owner!r} returned a migration for plugin "
                    f"{step.plugin!r} (version {step.version}); a plugin migrates only its "
                    "own tables, with plugin=<its own name>"
                )
        if steps:
            by_plugin.setdefault(owner, []).extend(steps)
    for owner, steps in by_plugin.items():
        steps.sort(key=lambda m: m.version)
        versions = [m.version for m in steps]
        if versions != list(range(1, len(steps) + 1)):
            raise MigrationError(
                f"plugin error: plugin {owner!r} has migration versions {versions}; they must "
                "be 1, 2, 3, ... without gaps or repeats"
            )
    return by_plugin


def _order(plugin: str) -> tuple[int, str]:
    # The kernel stores first: other plugins' tables may point at sessions.
    return (0 if plugin == PLUGIN else 1, plugin)


class Migrator:
    """Applies the collected migrations to one database."""

    def __init__(
        self,
        db: Any,
        migrations: dict[str, list[Migration]],
        write_transaction: Callable[[], AbstractContextManager[None]],
        path: Path | None,
    ) -> None:
        self.db = db
        self.migrations = migrations
        self.write_transaction = write_transaction
        self.path = path

    def ensure_bookkeeping(self) -> None:
        self.db.execute_sql(BOOKKEEPING_DDL)

    def applied(self) -> dict[str, int]:
        self.ensure_bookkeeping()
        cursor = self.db.execute_sql("SELECT plugin, version FROM schema_versions")
        return {plugin: int(version) for plugin, version in cursor.fetchall()}

    def heads(self) -> dict[str, int]:
        return {plugin: len(steps) for plugin, steps in sorted(self.migrations.items())}

    def pending(self) -> list[Migration]:
        applied = self.applied()
        todo = [
            m
            for plugin in sorted(self.migrations, key=_order)
            for m in self.migrations[plugin]
            if m.version > applied.get(plugin, 0)
        ]
        return todo

    def too_new(self) -> list[tuple[str, int, int]]:
        """``(plugin, applied, head)`` for each plugin whose schema is ahead of this code.
        Plugins without migrations here (disabled or uninstalled) are left alone."""
        applied = self.applied()
        heads = self.heads()
        return [
            (plugin, version, heads[plugin])
            for plugin, version in sorted(applied.items())
            if plugin in heads and version > heads[plugin]
        ]

    def refuse_if_too_new(self) -> None:
        newer = self.too_new()
        if not newer:
            return
        what = "; ".join(
            f"plugin {plugin!r} is at schema version {version}, this code knows up to {head}"
            for plugin, version, head in newer
        )
        raise SchemaTooNewError(
            f"database error: {self.path or 'the database'} was written by a newer SoulSpot "
            f"({what}). Refusing to start so nothing is damaged: install that newer version "
            "again, or restore a backup taken before the upgrade. "
            "`soulspot db status` shows every plugin's schema."
        )

    def _set_version(self, plugin: str, version: int) -> None:
        self.db.execute_sql(
            "INSERT INTO schema_versions (plugin, version, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (plugin) DO UPDATE SET version = excluded.version, "
            "updated_at = excluded.updated_at",
            (plugin, version, time.time()),
        )

    def _migrator(self) -> Any:
        from playhouse.migrate import SqliteMigrator

        return SqliteMigrator(self.db)

    def upgrade(self, on_step: Callable[[Step], None] | None = None) -> list[Step]:
        """Apply every pending step, each in its own transaction."""
        self.refuse_if_too_new()
        done: list[Step] = []
        for migration in self.pending():
            step = Step(migration.plugin, migration.version, migration.name, "upgrade")
            self._apply(migration.upgrade, migration.plugin, migration.version, step)
            done.append(step)
            if on_step is not None:
                on_step(step)
        return done

    def downgrade(
        self, plugin: str, target: int, on_step: Callable[[Step], None] | None = None
    ) -> list[Step]:
        """Run ``plugin``'s downgrades, newest first, until its schema is at ``target``."""
        if plugin not in self.migrations:
            known = ", ".join(sorted(self.migrations)) or "none"
            raise MigrationError(
                f"no migrations for plugin {plugin!r} (plugins with migrations: {known})"
            )
        current = self.applied().get(plugin, 0)
        head = len(self.migrations[plugin])
        if current > head:
            self.refuse_if_too_new()
        if target < 0 or target > current:
            raise MigrationError(
                f"cannot downgrade plugin {plugin!r} to version {target}: it is at version "
                f"{current} (choose 0..{current})"
            )
        done: list[Step] = []
        for migration in sorted(self.migrations[plugin], key=lambda m: -m.version):
            if target < migration.version <= current:
                step = Step(plugin, migration.version - 1, migration.name, "downgrade")
                self._apply(migration.downgrade, plugin, migration.version - 1, step)
                done.append(step)
                if on_step is not None:
                    on_step(step)
        return done

    def _apply(
        self, func: Callable[[Any, Any], None], plugin: str, version: int, step: Step
    ) -> None:
        started = time.perf_counter()
        attributes: dict[str, str | int] = {
            "soulspot.plugin": plugin,
            "soulspot.version": step.version,
        }
        try:
            with span(f"migration {step.direction}", **attributes), self.write_transaction():
                func(self.db, self._migrator())
                self._set_version(plugin, version)
        except MigrationError:
            raise
        except Exception as exc:
            log.error(
                "migration failed",
                exc_info=exc,
                extra={"plugin": plugin, "version": step.version, "direction": step.direction},
            )
            raise MigrationError(
                f"database error: migration {step} failed and was rolled back: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        log.info(
            "migration applied",
            extra={
                "plugin": plugin,
                "version": version,
                "direction": step.direction,
                "migration": step.name,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )


def describe(applied: dict[str, int], heads: dict[str, int]) -> Iterable[dict[str, Any]]:
    """Rows for ``soulspot db status``."""
    for plugin in sorted(set(applied) | set(heads), key=_order):
        have = applied.get(plugin, 0)
        head = heads.get(plugin)
        if head is None:
            state = "no migrations loaded (plugin disabled or not installed)"
        elif have > head:
            state = "NEWER than this code"
        elif have < head:
            state = f"{head - have} pending"
        else:
            state = "up to date"
        yield {"plugin": plugin, "applied": have, "head": head, "state": state}
