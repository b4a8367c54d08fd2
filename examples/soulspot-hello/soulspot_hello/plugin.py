"""Hook implementations of the ``hello`` plugin (entry point ``hello`` in ``soulspot.plugins``).

Import-light on purpose: ``soulspot --help`` imports this module, so Flask, pydantic and the
plugin's own views are imported inside the hooks that need them, never at the top.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from soulspot import hookimpl
from soulspot.types import (
    CheckResult,
    DashboardPanel,
    HealthCheck,
    Job,
    Migration,
    NavItem,
    PluginManifest,
)

if TYPE_CHECKING:  # only for type checkers: no import cost at run time
    import click
    from flask import Blueprint, Flask


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        # a string: the model is imported only when an app is built
        config_model="soulspot_hello.config:HelloConfig",
        kernel=">=0.1,<1.0",
        description=(
            "Example plugin: a page, a JSON API, a table, a command, config, a health check, "
            "a job, an audit event and a metric."
        ),
    )


@hookimpl
def register_blueprints(app: Flask) -> list[Blueprint]:
    from .api import api_bp
    from .views import bp

    return [bp, api_bp]


@hookimpl
def migrations() -> list[Migration]:
    # Collected by the storage plugin when one is enabled (the API then keeps greetings).
    from .models import migrations as schema_steps

    return schema_steps()


@hookimpl
def metrics(app: Flask) -> Iterable[Any]:
    from .state import state

    return [state(app).greetings]


@hookimpl
def nav_items(app: Flask) -> list[NavItem]:
    return [NavItem("Hello", "hello.index", order=500)]


@hookimpl
def dashboard_panels(app: Flask) -> list[DashboardPanel]:
    def context() -> dict[str, Any]:
        from soulspot.api import config_for

        cfg = config_for("hello")
        return {"greeting": cfg.greeting, "name": cfg.name}

    return [DashboardPanel("Hello", "hello/panel.html", context, order=500)]


@hookimpl
def register_commands(cli: click.Group) -> None:
    import click

    from soulspot.cli import with_app

    @cli.group("hello")
    def hello() -> None:
        """Commands of the hello example plugin."""

    @hello.command("greet")
    @click.option("--name", help="Whom to greet [default: [plugins.hello] name].")
    @with_app
    def greet(name: str | None) -> None:
        """Print the configured greeting."""
        from soulspot.api import config_for

        cfg = config_for("hello")
        click.echo(f"{cfg.greeting}, {name or cfg.name}!")


@hookimpl
def health_checks(app: Flask) -> list[HealthCheck]:
    def greeting_configured() -> CheckResult:
        from soulspot.api import config_for

        cfg = config_for("hello")
        return CheckResult("ok", f"greeting is {cfg.greeting!r}")

    # not critical: a broken greeting must never make the service "not ready"
    return [HealthCheck("hello", greeting_configured, critical=False)]


@hookimpl
def jobs(app: Flask) -> list[Job]:
    from soulspot.api import config_for

    from .views import count_job

    minutes = config_for("hello").interval_minutes
    return [Job("hello.count", count_job, "interval", {"minutes": minutes})]
