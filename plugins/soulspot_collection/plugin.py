"""Hook implementations of the `collection` plugin (the `soulspot.plugins` entry point).

Import-light: the scanner, matcher, Flask views and click commands live in sibling modules
imported inside the hooks (``soulspot --help`` loads this module).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from soulspot import hookimpl
from soulspot.types import (
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

    from soulspot.vault import SyncChanges

    from .service import CollectionService


def _service(app: Flask) -> CollectionService:
    from .service import service

    return service(app)


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        provides=(),
        requires=(CONCERN_STORAGE, CONCERN_LIBRARY),
        config_model="soulspot_collection.config:CollectionConfig",
        description=(
            "Your music folder: tag scan, matches to the Spotify vault, what is missing, M3U8 "
            "playlists."
        ),
    )


@hookimpl
def migrations() -> Iterable[Migration]:
    from .models import migrations as plugin_migrations

    return plugin_migrations()


@hookimpl
def register_blueprints(app: Flask) -> Iterable[Blueprint]:
    from .views import make_blueprint

    return [make_blueprint()]


@hookimpl
def nav_items(app: Flask) -> Iterable[NavItem]:
    return [NavItem("Collection", "collection.index", 300)]


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .commands import register

    register(cli)


@hookimpl
def library_synced(app: Flask, changes: SyncChanges) -> None:
    _service(app).on_synced(changes)


@hookimpl
def jobs(app: Flask) -> Iterable[Job]:
    from soulspot import api

    from .schedule import cron_args

    cfg = api.config_for("collection")
    found: list[Job] = []
    if cfg.scan_schedule != "off" and cfg.music_dirs:
        found.append(
            Job("collection.scan", _scheduled_scan(app), "cron", cron_args(cfg.scan_schedule))
        )
    if cfg.playlist_schedule != "off" and cfg.playlist_dir is not None:
        found.append(
            Job(
                "collection.export",
                _scheduled_export(app),
                "cron",
                cron_args(cfg.playlist_schedule),
            )
        )
    return found


def _scheduled_scan(app: Flask) -> Any:
    def run() -> None:
        import logging

        from .scanner import ScanBusy

        try:
            outcome = _service(app).scan()
        except ScanBusy:
            logging.getLogger("soulspot.collection").info("scheduled scan skipped: one is running")
            return
        logging.getLogger("soulspot.collection").info(
            "collection scanned",
            extra={
                "files": outcome.scan.seen,
                "read": outcome.scan.read,
                "rematched": outcome.rematch.tracks,
            },
        )

    return run


def _scheduled_export(app: Flask) -> Any:
    def run() -> None:
        from soulspot import api

        from .playlists import export

        cfg = api.config_for("collection")
        with api.storage().connection():
            written = export(api.library(), _service(app).standing(), cfg.playlist_dir)
        api.audit(
            "collection.playlists_exported", folder=str(cfg.playlist_dir), playlists=len(written)
        )

    return run


@hookimpl
def health_checks(app: Flask) -> Iterable[HealthCheck]:
    from .health import collection_check

    return [HealthCheck("collection", collection_check(app), critical=False)]


@hookimpl
def metrics(app: Flask) -> Iterable[Any]:
    from .health import collectors

    return collectors(app)
