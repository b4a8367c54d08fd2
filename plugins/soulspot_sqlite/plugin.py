"""Hook implementations of the `sqlite` plugin (the `soulspot.plugins` entry point).

Import-light: everything heavy (flask, peewee, prometheus_client) lives in sibling modules
imported inside the hooks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from soulspot import hookimpl
from soulspot.types import CONCERN_STORAGE, PluginManifest

if TYPE_CHECKING:  # pragma: no cover
    import click
    from flask import Flask

    from soulspot.stores import Storage
    from soulspot.types import (
        AuditEvent,
        BackupSource,
        HealthCheck,
        Job,
        Migration,
        RequestPhase,
    )


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        provides=(CONCERN_STORAGE,),
        config_model="soulspot_sqlite.config:SqliteConfig",
        description="SQLite storage through peewee: migrations, sessions, audit, settings, cache.",
    )


@hookimpl
def init_app(app: Flask) -> None:
    from .runtime import install_connection_release

    install_connection_release(app)


@hookimpl
def request_phases(app: Flask) -> Iterable[RequestPhase]:
    from .runtime import request_phase

    return [request_phase(app)]


@hookimpl
def storage(app: Flask) -> Storage:
    from .runtime import build_storage

    return build_storage(app)


@hookimpl
def migrations() -> Iterable[Migration]:
    from .schema import MIGRATIONS

    return MIGRATIONS


@hookimpl(tryfirst=True)
def startup(app: Flask) -> None:
    from .runtime import startup as run

    run(app)


@hookimpl
def shutdown(app: Flask) -> None:
    from .runtime import shutdown as run

    run(app)


@hookimpl
def audit_event(app: Flask, event: AuditEvent) -> None:
    from .runtime import audit_event as run

    run(app, event)


@hookimpl
def health_checks(app: Flask) -> Iterable[HealthCheck]:
    from .runtime import health_checks as run

    return run(app)


@hookimpl
def dependency_versions() -> Mapping[str, str]:
    from .runtime import dependency_versions as run

    return run()


@hookimpl
def metrics(app: Flask) -> Iterable[Any]:
    from .runtime import metrics_of

    return metrics_of(app).collectors()


@hookimpl
def jobs(app: Flask) -> Iterable[Job]:
    from .runtime import jobs as run

    return run(app)


@hookimpl
def backup_sources(app: Flask) -> Iterable[BackupSource]:
    from .runtime import backup_sources as run

    return run(app)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import register

    register(cli)
