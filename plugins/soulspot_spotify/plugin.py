"""Hook implementations of the `spotify` plugin (the `soulspot.plugins` entry point).

Import-light on purpose: Flask, authlib, peewee and friends are imported inside the hooks
(``soulspot --help`` loads this module).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from soulspot import hookimpl
from soulspot.types import (
    CONCERN_AUTH,
    CONCERN_STORAGE,
    DashboardPanel,
    HealthCheck,
    Job,
    Migration,
    NavItem,
    PluginManifest,
)

if TYPE_CHECKING:  # pragma: no cover
    import click
    from flask import Blueprint, Flask


def _rt(app: Flask) -> Any:
    from .runtime import runtime

    return runtime(app)


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        provides=(CONCERN_AUTH,),
        requires=(CONCERN_STORAGE,),
        config_model="soulspot_spotify.config:SpotifyConfig",
        description="Spotify sign-in (OAuth 2.0 PKCE), sessions, encrypted tokens, owner lock.",
    )


@hookimpl
def init_app(app: Flask) -> None:
    import logging

    from soulspot import api

    from .runtime import EXTENSION, Runtime
    from .sessions import SessionManager
    from .tokens import TokenManager

    # authlib logs tokens and PKCE verifiers at DEBUG: never let those through.
    # An explicit level, so a root logger later set to DEBUG does not open it up again.
    authlib_log = logging.getLogger("authlib")
    if authlib_log.level < logging.INFO:  # NOTSET (0) included
        authlib_log.setLevel(logging.INFO)
    rt = Runtime(app, api.config_for("spotify", app))
    rt.sessions = SessionManager(rt)
    rt.tokens = TokenManager(rt)
    api.set_state_for(EXTENSION, rt, app)


@hookimpl
def register_blueprints(app: Flask) -> Iterable[Blueprint]:
    from .views import api_bp, bp

    return [bp, api_bp]


@hookimpl
def auth_provider(app: Flask) -> Any:
    from .sessions import SpotifyAuth

    return SpotifyAuth(_rt(app))


@hookimpl
def migrations() -> Iterable[Migration]:
    from .models import migrations as plugin_migrations

    return plugin_migrations()


@hookimpl
def nav_items(app: Flask) -> Iterable[NavItem]:
    return [
        NavItem("Sessions", "spotify.sessions_page", order=800),
        NavItem("Sign out", "spotify.logout", order=1000, method="post"),
    ]


@hookimpl
def dashboard_panels(app: Flask) -> Iterable[DashboardPanel]:
    from .views import panel_context

    return [DashboardPanel("Spotify", "spotify/panel.html", panel_context, order=10)]


@hookimpl
def jobs(app: Flask) -> Iterable[Job]:
    def purge() -> None:
        import logging

        from soulspot import api

        from .models import OAuthPending
        from .runtime import now_ts

        with api.storage().connection():
            sessions = _rt(app).sessions.purge()
            with api.storage().write_transaction():
                pending = OAuthPending.delete().where(OAuthPending.expires_at < now_ts()).execute()
        logging.getLogger("soulspot.spotify").info(
            "expired sessions purged", extra={"sessions": sessions, "pending_sign_ins": pending}
        )

    return [
        Job(
            id="spotify.purge_sessions",
            func=purge,
            trigger="interval",
            trigger_args={"minutes": 15},
            run_at_start=True,
        )
    ]


@hookimpl
def health_checks(app: Flask) -> Iterable[HealthCheck]:
    from .health import spotify_check

    return [spotify_check(_rt(app))]


@hookimpl
def metrics(app: Flask) -> Iterable[Any]:
    from prometheus_client import Gauge

    gauge = Gauge(
        "soulspot_sessions_active",
        "Signed-in sessions that have neither expired nor gone idle.",
        registry=None,
    )

    def count() -> float:
        from flask import current_app, has_app_context

        from soulspot import api

        if not api.has_storage(app):
            return float("nan")
        try:
            if has_app_context() and current_app._get_current_object() is app:  # type: ignore[attr-defined]
                return float(len(_rt(app).sessions.active()))  # a scrape inside a request
            with app.app_context(), api.storage(app).connection():
                return float(len(_rt(app).sessions.active()))
        except Exception:  # a scrape must not fail because the store is busy
            return float("nan")

    gauge.set_function(count)
    return [gauge]


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .commands import register

    register(cli)


@hookimpl
def before_serve(app: Flask) -> None:
    import secrets

    from soulspot import api

    from .first_run import needs_setup, setup_message

    rt = _rt(app)
    with app.app_context(), api.storage().connection():
        if not needs_setup(rt):
            return
        rt.setup_token = secrets.token_urlsafe(24)  # fresh at every start
        message = setup_message(rt, rt.public_url or rt.origin(), rt.setup_token)
    api.announce(message)  # stderr, set apart on a terminal: the token is not a log line


@hookimpl
def backup_sources(app: Flask) -> Iterable[Any]:
    from .crypto import backup_source

    ring = _rt(app).keyring
    # Keys from the config are backed up with the config (the backup plugin treats a config
    # holding secrets as sensitive); only the generated key file is ours to save.
    return [] if ring.from_config else [backup_source(ring)]
