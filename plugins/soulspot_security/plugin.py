"""Hook implementations of the `security` plugin (the `soulspot.plugins` entry point).

Import-light: limits, flask-limiter, flask-cors and pydantic are imported only inside the
hooks (from sibling modules).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from soulspot import hookimpl
from soulspot.types import (
    CONCERN_CSRF,
    CONCERN_RATE_LIMITS,
    CONCERN_SECURITY_HEADERS,
    DashboardPanel,
    Job,
    Middleware,
    Migration,
    NavItem,
    PluginManifest,
    RequestPhase,
    User,
)

if TYPE_CHECKING:  # pragma: no cover
    import click
    from flask import Blueprint, Flask


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        provides=(CONCERN_CSRF, CONCERN_SECURITY_HEADERS, CONCERN_RATE_LIMITS),
        config_model="soulspot_security.config:SecurityConfig",
        description="Security headers, CSP, rate limits, CORS, CSRF, audit log page.",
    )


@hookimpl
def init_app(app: Flask) -> None:
    from .setup import install

    install(app)


@hookimpl
def request_phases(app: Flask) -> Iterable[RequestPhase]:
    from .setup import request_phases as phases

    return phases(app)


@hookimpl
def wsgi_middleware(app: Flask) -> Iterable[Middleware]:
    from .setup import middleware

    return middleware(app)


@hookimpl
def register_blueprints(app: Flask) -> Iterable[Blueprint]:
    from .token_views import bp as tokens_bp
    from .views import bp

    return [bp, tokens_bp]


@hookimpl
def migrations() -> Iterable[Migration]:
    from .api_tokens import migrations as token_migrations

    return token_migrations()


@hookimpl
def user_from_token(token: str) -> User | None:
    from .token_gate import user_for

    return user_for(token)


@hookimpl(trylast=True)
def startup(app: Flask) -> None:
    from .setup import on_startup

    on_startup(app)


@hookimpl
def nav_items(app: Flask) -> Iterable[NavItem]:
    return [
        NavItem("Audit", "security.audit_page", 800),
        NavItem("API tokens", "api_tokens.tokens_page", 810),
    ]


@hookimpl
def dashboard_panels(app: Flask) -> Iterable[DashboardPanel]:
    from .setup import panel_context

    return [DashboardPanel("Recent audit events", "security/panel.html", panel_context, 500)]


@hookimpl
def jobs(app: Flask) -> Iterable[Job]:
    from .setup import retention_job, summary_job

    return [retention_job(app), summary_job(app)]


@hookimpl
def shutdown(app: Flask) -> None:
    from .setup import on_shutdown

    on_shutdown(app)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import register

    register(cli)
