"""``soulspot db status | upgrade | downgrade <plugin> <version>``.

Import-light: only click at module level (this runs on every ``soulspot --help``). The app is
built with migrations held back, so ``status`` changes nothing and ``upgrade`` is the one that
applies (after a pre-migration backup when the backup plugin is enabled).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import click


def _store() -> Any:
    from soulspot.cli import current_app_from_cli, fail

    from .runtime import store_of

    store = store_of(current_app_from_cli())
    if store is None:  # pragma: no cover - the command is only added with the plugin
        fail("the sqlite plugin is not the enabled storage")
    return store


def _guarded(command: Any, *, read_only: bool = False) -> Any:
    """Build the app with migrations held back and turn migration errors into exit 2
    (``read_only``: refuse a data directory without a database, see ``with_app``)."""
    import functools

    from soulspot.cli import with_app

    inner = with_app(command, read_only=read_only)

    @functools.wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        from soulspot.cli import fail

        from .migrate import MigrationError
        from .runtime import manual_migrations

        with manual_migrations():
            try:
                return inner(*args, **kwargs)
            except MigrationError as exc:
                fail(str(exc))

    return wrapped


def register(cli: click.Group) -> None:
    @cli.group("db")
    def db() -> None:
        """Database schema: status, upgrade, downgrade (SQLite store)."""

    @db.command("status")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
    @functools.partial(_guarded, read_only=True)
    def status(as_json: bool) -> None:
        """Show each plugin's applied and newest schema version and pending migrations."""
        from .migrate import describe

        store = _store()
        applied = store.migrator.applied()
        rows = list(describe(applied, store.migrator.heads()))
        pending = [f"{m.plugin} {m.version}: {m.name}" for m in store.migrator.pending()]
        if as_json:
            out = {"database": str(store.path), "plugins": rows, "pending": pending}
            click.echo(json.dumps(out, indent=2))
            return
        click.echo(f"database: {store.path}")
        click.echo(f"{'plugin':<16} {'applied':>7} {'head':>5}  state")
        for row in rows:
            head = "-" if row["head"] is None else str(row["head"])
            click.echo(f"{row['plugin']:<16} {row['applied']:>7} {head:>5}  {row['state']}")
        for line in pending:
            click.echo(f"pending: {line}")
        if store.migrator.too_new():
            click.echo(
                "the database is NEWER than this code: SoulSpot will refuse to start", err=True
            )

    @db.command("upgrade")
    @_guarded
    def upgrade() -> None:
        """Apply every pending migration (after a backup when the backup plugin is on)."""
        from .runtime import migrate_with_backup

        store = _store()
        store.migrator.refuse_if_too_new()
        applied = migrate_with_backup(store)
        if not applied:
            click.echo("schema is up to date; nothing to do")
        for line in applied:
            click.echo(f"applied: {line}")

    @db.command("downgrade")
    @click.argument("plugin")
    @click.argument("version", type=click.IntRange(min=0))
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @_guarded
    def downgrade(plugin: str, version: int, yes: bool) -> None:
        """Roll PLUGIN's schema back to VERSION by running its downgrade steps (may drop
        that plugin's data; a backup is taken first when the backup plugin is on)."""
        from soulspot.api import claim_data_dir
        from soulspot.cli import fail
        from soulspot.config import ConfigError

        try:
            with claim_data_dir("soulspot db downgrade"):
                _downgrade(plugin, version, yes)
        except ConfigError as exc:  # the data directory is in use (soulspot serve runs)
            fail(f"cannot downgrade: {exc}", code=1)

    def _downgrade(plugin: str, version: int, yes: bool) -> None:
        from soulspot.api import take_backup
        from soulspot.cli import confirm, fail

        store = _store()
        current = store.migrator.applied().get(plugin, 0)
        if plugin not in store.migrator.heads():
            known = ", ".join(sorted(store.migrator.heads())) or "none"
            fail(f"no migrations for plugin {plugin!r} (plugins with a schema: {known})")
        if version < 0:
            fail(f"version {version} is not a schema version (expected 0 or more)")
        if version >= current:
            fail(f"plugin {plugin!r} is at schema version {current}; nothing to downgrade")
        confirm(
            f"Downgrade the schema of plugin {plugin!r} from version {current} to {version}? "
            "Its downgrade steps may drop data.",
            yes,
        )
        backup_id = None
        try:
            backup_id = take_backup("pre-migration")
        except Exception as exc:
            fail(
                f"the backup before downgrading failed ({type(exc).__name__}: {exc}); "
                "nothing was changed"
            )
        if backup_id is not None:
            click.echo(f"backup taken: {backup_id}")
        for line in store.downgrade(plugin, version):
            click.echo(f"rolled back: {line}")
        if store.config.auto_migrate:
            click.echo(
                "note: auto_migrate is on, so the next start re-applies these migrations; "
                "install the older SoulSpot first, or set [plugins.sqlite] auto_migrate = false"
            )
