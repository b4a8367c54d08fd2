"""Hook implementations of the `notify` plugin (the `soulspot.plugins` entry point).

Import-light: Apprise and Flask are imported inside the hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from soulspot import hookimpl
from soulspot.types import CONCERN_NOTIFY, Job, NavItem, PluginManifest

if TYPE_CHECKING:  # pragma: no cover
    import click
    from flask import Blueprint, Flask

    from soulspot.types import AuditEvent


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        provides=(CONCERN_NOTIFY,),
        config_model="soulspot_notify.config:NotifyConfig",
        description=(
            "Notifications through Apprise (e-mail, ntfy, Gotify, Telegram, Discord, "
            "webhooks) when something needs the owner."
        ),
    )


@hookimpl
def audit_event(app: Flask, event: AuditEvent) -> None:
    from .service import notifier

    try:
        notifier(app).on_audit(event)
    except Exception:  # the audit_event contract: must not raise
        import logging

        logging.getLogger("soulspot.notify").exception("could not queue a notification")


@hookimpl
def jobs(app: Flask) -> Iterable[Job]:
    from soulspot import api

    from .service import watch_job

    config = api.config_for("notify")
    if not config.urls:
        return []
    return [
        Job(
            "notify.watch",
            watch_job(app),
            "interval",
            {"minutes": config.check_every_minutes},
            run_at_start=True,
        )
    ]


@hookimpl
def register_blueprints(app: Flask) -> Iterable[Blueprint]:
    from .views import bp

    return [bp]


@hookimpl
def nav_items(app: Flask) -> Iterable[NavItem]:
    return [NavItem("Notifications", "notify.page", 850)]


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .commands import notify

    cli.add_command(notify)


@hookimpl
def shutdown(app: Flask) -> None:
    from .service import notifier

    notifier(app).sender.drain(timeout=10.0)  # what is queued goes out before the end
