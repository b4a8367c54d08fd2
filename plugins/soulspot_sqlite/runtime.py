"""What the hooks of ``plugin.py`` do (imported only once an app is being built)."""

from __future__ import annotations

import contextvars
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from flask import Flask

from soulspot import api
from soulspot.api import one_off_command, read_only_command
from soulspot.exceptions import ConfigError
from soulspot.types import STAGE_IDENTIFY, AuditEvent, CheckResult, HealthCheck, Job, RequestPhase

from .config import SqliteConfig
from .migrate import MigrationError, collect
from .observe import StoreMetrics
from .store import SqliteStorage

log = logging.getLogger("soulspot.sqlite")

EXTENSION = "soulspot_sqlite"
METRICS_EXTENSION = "soulspot_sqlite.metrics"

#: Set by ``soulspot db ...`` commands: start-up neither migrates nor refuses a newer schema
#: (the command itself reports and decides).
MANUAL_MIGRATIONS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "soulspot_sqlite_manual_migrations", default=False
)


@contextmanager
def manual_migrations() -> Iterator[None]:
    token = MANUAL_MIGRATIONS.set(True)
    try:
        yield
    finally:
        MANUAL_MIGRATIONS.reset(token)


def store_of(app: Flask) -> SqliteStorage | None:
    try:
        return cast(SqliteStorage, api.state_for(EXTENSION, app))
    except LookupError:
        return None


def metrics_of(app: Flask) -> StoreMetrics:
    try:
        return cast(StoreMetrics, api.state_for(METRICS_EXTENSION, app))
    except LookupError:
        return api.set_state_for(METRICS_EXTENSION, StoreMetrics(), app)


def _config(app: Flask) -> SqliteConfig:
    try:
        config = api.config_for("sqlite", app)
    except KeyError:
        config = None
    return config if isinstance(config, SqliteConfig) else SqliteConfig.model_validate({})


# -- per-request connection ---------------------------------------------------------------


def request_phase(app: Flask) -> RequestPhase:
    """Identify stage: the kernel's model proxy -> this app's database (tests run many
    apps). The connection is taken lazily (peewee connects on the first query of the
    thread) and given back when the app context ends, only if one was taken: health probes
    and other requests that never query never touch the pool."""

    def bind_models() -> None:
        store = store_of(app)
        if store is not None:
            store.bind()

    return RequestPhase("sqlite.bind", STAGE_IDENTIFY + 10, before=bind_models, probes=False)


def install_connection_release(app: Flask) -> None:
    """Give the pooled connection back when an app context ends (requests, CLI commands,
    jobs): Flask's ``teardown_appcontext``, since not only requests take connections."""

    def release_connection(_exc: BaseException | None) -> None:
        store = store_of(app)
        if store is None or store.database.is_closed():
            return  # nothing was taken in this context
        try:
            store.database.release_thread_connection()
        except Exception:  # teardown must not raise; the pool drops a broken connection
            log.exception("could not release the database connection")

    app.teardown_appcontext(release_connection)


# -- lifecycle ------------------------------------------------------------------------------


def build_storage(app: Flask) -> SqliteStorage:
    replica = api.point_in_time_source(app)
    store = SqliteStorage(
        api.data_dir(app),
        _config(app),
        collect(api.hook(app)),
        metrics_of(app),
        checkpoints_elsewhere=replica is not None and replica.owns_checkpoints,
    )
    if read_only_command() and store.path is not None and not store.path.is_file():
        # a wrong --data-dir must not look like an empty instance (and get a database)
        raise ConfigError(
            f"the data directory {api.data_dir(app)} has no database ({store.path} does not "
            "exist). Is --data-dir (or [kernel] data_dir) right? `soulspot serve` creates "
            "the database on its first start; nothing was created."
        )
    api.set_state_for(EXTENSION, store, app)
    return store


def startup(app: Flask) -> None:
    store = store_of(app)
    if store is None:
        return
    store.bind()
    try:
        _start(store)
    except MigrationError:
        raise
    except Exception as exc:  # the file cannot be opened or written: say why, no traceback
        import peewee

        if not isinstance(exc, peewee.DatabaseError | sqlite3.DatabaseError | OSError):
            raise
        raise MigrationError(cannot_open(store, exc)) from None


def cannot_open(store: SqliteStorage, exc: BaseException) -> str:
    """Why the database cannot be used, with the owner when it is not this user's."""
    import pwd

    path = Path(store.path or "")
    message = f"database error: cannot use {path}: {exc}."

    def name(uid: int) -> str:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)

    me = os.geteuid()
    for item in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            owner = item.stat().st_uid
        except OSError:
            continue
        if owner != me:
            return (
                f"{message} {item} is owned by {name(owner)}, but SoulSpot runs as {name(me)}: "
                f"give it back (chown {name(me)}: {path}*) and start again."
            )
    return f"{message} Check that {path.parent} and the file are readable and writable."


def _start(store: SqliteStorage) -> None:
    with store.connection():
        mode = store.database.execute_sql("PRAGMA journal_mode").fetchone()[0]
        private_files(store)
        if str(mode).lower() != "wal":
            log.warning(
                "SQLite WAL mode is not available on this filesystem; writers will block readers",
                extra={"journal_mode": mode, "path": str(store.path)},
            )
        migrator = store.migrator
        migrator.ensure_bookkeeping()
        _discard_stale_restore(store)
        if MANUAL_MIGRATIONS.get():
            return
        migrator.refuse_if_too_new()
        pending = migrator.pending()
        if not pending:
            return
        if one_off_command() and migrator.applied():  # rows exist: not a brand-new file
            # only `serve` and `db upgrade` change an existing schema: a migration applied by
            # `soulspot backup list` would silently undo a `db downgrade` (a brand-new
            # database is still created by any command)
            log.warning(
                "schema migrations are pending; this command leaves them for `soulspot serve` "
                "or `soulspot db upgrade`",
                extra={"pending": [f"{m.plugin}:{m.version}" for m in pending]},
            )
            return
        if not store.config.auto_migrate:
            log.warning(
                "schema migrations are pending and auto_migrate is off: run `soulspot db "
                "upgrade`; readiness fails until then",
                extra={"pending": [f"{m.plugin}:{m.version}" for m in pending]},
            )
            return
        migrate_with_backup(store)


def _discard_stale_restore(store: SqliteStorage) -> None:
    """Remove the staged database a killed restore left, unless a restore is running now
    (in another process holding the data directory)."""
    from soulspot.api import data_dir_holder

    from .backup import discard_stale

    if data_dir_holder() is None:
        discard_stale(store)


def private_files(store: SqliteStorage) -> None:
    """The database and its WAL files are readable by the owner only (0600)."""
    base = str(store.path)
    for name in (base, f"{base}-wal", f"{base}-shm"):
        try:
            os.chmod(name, 0o600)
        except FileNotFoundError:
            continue
        except OSError as exc:  # a filesystem without modes: say so once, go on
            log.warning("cannot make the database private", extra={"path": name, "error": str(exc)})


def migrate_with_backup(store: SqliteStorage) -> list[str]:
    """Take a pre-migration backup (when there is data and a backup plugin), then upgrade."""
    from soulspot.api import take_backup

    if not store.pending():
        return []  # nothing to do: no backup either
    if any(store.schema_versions().values()):
        try:
            backup_id = take_backup("pre-migration")
        except Exception as exc:
            log.error("pre-migration backup failed", exc_info=exc)
            raise MigrationError(
                "database error: the backup before migrating failed "
                f"({type(exc).__name__}: {exc}); nothing was migrated. Fix the backup "
                "problem (see the log), or set [plugins.sqlite] auto_migrate = false and "
                "run `soulspot db upgrade` once you have a copy of "
                f"{store.path}"
            ) from None
        if backup_id is not None:
            log.info("pre-migration backup taken", extra={"backup_id": backup_id})
    return store.upgrade()


def shutdown(app: Flask) -> None:
    store = store_of(app)
    if store is not None:
        store.close()


def audit_event(app: Flask, event: AuditEvent) -> None:
    store = store_of(app)
    if store is None:
        return

    def append() -> None:
        try:
            with store.connection():
                store.audit.append(event)
        except Exception:  # must not raise (hook contract); the log still has the event
            log.exception("could not store an audit event", extra={"event": event.event})

    # Inside a transaction the event is written once it ends, so a rollback cannot take
    # the record of a failed action with it.
    store.database.after_transaction(append)


# -- health ---------------------------------------------------------------------------------


def database_check(store: SqliteStorage) -> CheckResult:
    try:
        with store.connection():
            db = store.database
            db.execute_sql("SELECT 1")
            applied = store.migrator.applied()
            heads = store.migrator.heads()
            newer = store.migrator.too_new()
            if newer:
                return CheckResult(
                    "fail",
                    "database schema is newer than this code",
                    {"applied": applied, "head": heads},
                )
            behind = {p: (applied.get(p, 0), h) for p, h in heads.items() if applied.get(p, 0) < h}
            if behind:
                return CheckResult(
                    "fail",
                    "schema migrations pending: run `soulspot db upgrade`",
                    {"applied": applied, "head": heads},
                )
            _probe_write(db.connection(), store.config.busy_timeout_ms)
            mode = db.execute_sql("PRAGMA journal_mode").fetchone()[0]
    except Exception as exc:
        return CheckResult("fail", f"database not usable: {type(exc).__name__}: {exc}")
    return CheckResult(
        "ok",
        "reachable, writable, schema at head",
        {"path": str(store.path), "journal_mode": mode, "schema": applied},
    )


def _probe_write(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """A tiny real write with a short lock wait (a health probe must answer fast)."""
    conn.execute("PRAGMA busy_timeout = 1000")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO health_probe (id, checked_at) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                (time.time(),),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")


def health_checks(app: Flask) -> list[HealthCheck]:
    store = store_of(app)
    if store is None:
        return []
    return [HealthCheck("database", lambda: database_check(store), critical=True, timeout=3.0)]


def dependency_versions() -> dict[str, str]:
    import peewee

    return {
        "sqlite": sqlite3.sqlite_version,
        "peewee": str(getattr(peewee, "__version__", "unknown")),
    }


# -- scheduled maintenance ------------------------------------------------------------------


def maintenance(store: SqliteStorage) -> dict[str, int]:
    """Drop expired cache entries and ``PRAGMA optimize``. Audit retention is a policy of the
    audit log's owner (the security plugin), which calls ``audit.prune_before``."""
    with store.connection():
        purged = store.ttl_cache.purge_expired()
        store.database.execute_sql("PRAGMA optimize")
    log.info("database maintenance", extra={"cache_purged": purged})
    return {"cache_purged": purged}


def jobs(app: Flask) -> list[Job]:
    store = store_of(app)
    if store is None:
        return []
    return [Job("sqlite.maintenance", lambda: maintenance(store), "interval", {"hours": 24})]


def backup_sources(app: Flask) -> list[Any]:
    from .backup import backup_source

    store = store_of(app)
    return [] if store is None else [backup_source(store)]
