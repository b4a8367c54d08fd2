"""Hook implementations of the `library` plugin (the `soulspot.plugins` entry point).

Import-light on purpose (``soulspot --help`` loads this module): the work is done by modules
named after their job, imported inside the hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from soulspot import hookimpl
from soulspot.types import (
    CONCERN_AUTH,
    CONCERN_LIBRARY,
    CONCERN_STORAGE,
    HealthCheck,
    Job,
    Migration,
    NavItem,
    PluginManifest,
)

if TYPE_CHECKING:  # pragma: no cover
    import click
    from flask import Blueprint, Flask

    from soulspot.vault import LibraryVault


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        provides=(CONCERN_LIBRARY,),
        requires=(CONCERN_STORAGE, CONCERN_AUTH),
        config_model="soulspot_library.config:LibraryConfig",
        description="A versioned vault of the owner's Spotify library: sync, history, export.",
    )


@hookimpl
def init_app(app: Flask) -> None:
    from soulspot import api

    from .service import EXTENSION, LibraryService
    from .times import iso, names

    api.set_state_for(EXTENSION, LibraryService(app), app)
    app.add_template_filter(names, "library_names")
    app.add_template_filter(iso, "library_time")


@hookimpl
def migrations() -> Iterable[Migration]:
    from .models import migrations as plugin_migrations

    return plugin_migrations()


@hookimpl
def library_vault(app: Flask) -> LibraryVault:
    from .queries import Vault

    return Vault()


@hookimpl
def register_blueprints(app: Flask) -> Iterable[Blueprint]:
    from .api_views import api_bp
    from .views import bp

    return [bp, api_bp]


@hookimpl
def nav_items(app: Flask) -> Iterable[NavItem]:
    return [NavItem("Library", "library.overview", order=20)]


@hookimpl
def jobs(app: Flask) -> Iterable[Job]:
    from .service import service

    job = service(app).job()
    return [job] if job is not None else []


@hookimpl
def health_checks(app: Flask) -> Iterable[HealthCheck]:
    from .service import service

    return [service(app).health_check()]


@hookimpl
def metrics(app: Flask) -> Iterable[Any]:
    from .service import service

    return service(app).metrics.collectors()


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .commands import register

    register(cli)
