"""Hook implementations of the `backup` plugin (the `soulspot.plugins` entry point).

Import-light: the service, Flask views and click commands live in sibling modules imported
inside the hooks.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Any

from soulspot import hookimpl
from soulspot.types import (
    BackupSource,
    CheckResult,
    DashboardPanel,
    HealthCheck,
    Job,
    NavItem,
    PluginManifest,
)

if TYPE_CHECKING:  # pragma: no cover
    import click
    from flask import Blueprint, Flask


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        provides=("backup",),
        requires=("storage",),
        config_model="soulspot_backup.config:BackupConfig",
        description="Scheduled, verified online backups and atomic restore.",
    )


def _service(app: Flask) -> Any:
    from .service import service

    return service(app)


@hookimpl(wrapper=True)
def storage(app: Flask) -> Generator[None, Any, Any]:
    """Not a storage provider: wraps the store's hook so that ``soulspot backup restore`` can
    move a database file that cannot even be opened aside before the store starts on it."""
    store = yield
    from .startup import refuse_if_interrupted

    refuse_if_interrupted(app)  # before any plugin's startup touches (or migrates) the data
    if store is not None:
        from .startup import set_aside_if_unreadable

        set_aside_if_unreadable(app, store)
    return store


@hookimpl
def startup(app: Flask) -> None:
    _service(app)  # a backup folder that cannot be used stops start-up with its message


@hookimpl
def before_serve(app: Flask) -> None:
    _service(app).hold_serving_lock()


@hookimpl
def backup_sources(app: Flask) -> Iterable[BackupSource]:
    from .signing import key_source

    svc = _service(app)
    return [svc.config_source(), key_source(svc.signing)]


@hookimpl
def take_backup(app: Flask, trigger: str) -> str | None:
    svc = _service(app)
    if trigger == "pre-migration" and svc.restoring is not None:
        return str(svc.restoring)  # the archive being restored is that backup
    return str(svc.create(trigger).id)


@hookimpl
def jobs(app: Flask) -> Iterable[Job]:
    svc = _service(app)
    cfg = svc.config
    if cfg.schedule == "off":
        return []
    grace = int(cfg.misfire_grace_hours * 3600)
    if cfg.schedule == "cron":
        from soulspot.cron import trigger_args

        args = trigger_args(cfg.cron, cfg.timezone)
        return [Job("backup", svc.scheduled_run, "cron", args, grace, svc.overdue())]
    return [
        Job(
            "backup",
            svc.scheduled_run,
            "interval",
            {"seconds": int(cfg.interval_hours * 3600)},
            grace,
            svc.overdue(),
        )
    ]


@hookimpl
def metrics(app: Flask) -> Iterable[Any]:
    return list(_service(app).metrics.collectors())


@hookimpl
def health_checks(app: Flask) -> Iterable[HealthCheck]:
    def check() -> CheckResult:
        import datetime as dt
        import time

        svc = _service(app)
        interval = svc.interval_seconds()
        newest = svc.newest_verified()
        failure = svc.last_failure()
        details: dict[str, Any] = {"interval_seconds": interval}
        if newest is not None:
            age = (dt.datetime.now(dt.UTC) - newest.created_at).total_seconds()
            details.update(newest=newest.id, age_seconds=round(age))
        if failure is not None:
            details["last_failure"] = failure.get("at")
        if newest is None:
            uptime = time.time() - svc.kernel.started_at
            if interval is not None and uptime > 2 * interval:
                return CheckResult("warn", "no verified backup yet", details)
            if failure is not None:
                return CheckResult("warn", "the last backup attempt failed", details)
            return CheckResult("ok", "no backup yet; the first one is due", details)
        if interval is not None and details["age_seconds"] > 2 * interval:
            return CheckResult(
                "warn", "the newest verified backup is older than two intervals", details
            )
        if failure is not None:
            return CheckResult("warn", "the last backup attempt failed", details)
        return CheckResult("ok", f"newest verified backup {newest.id}", details)

    return [HealthCheck("backup", check, critical=False)]


@hookimpl
def register_blueprints(app: Flask) -> Iterable[Blueprint]:
    from .views import make_blueprint

    return [make_blueprint()]


@hookimpl
def nav_items(app: Flask) -> Iterable[NavItem]:
    return [NavItem("Backups", "backup.index", 700)]


@hookimpl
def dashboard_panels(app: Flask) -> Iterable[DashboardPanel]:
    def context() -> dict[str, Any]:
        import datetime as dt

        from .commands import age

        svc = _service(app)
        newest = svc.newest_verified()
        interval = svc.interval_seconds()
        data: dict[str, Any] = {"newest": newest, "failure": svc.last_failure()}
        if newest is not None:
            seconds = (dt.datetime.now(dt.UTC) - newest.created_at).total_seconds()
            data["age"] = age(newest.created_at)
            data["size"] = f"{newest.size / 1e6:.1f} MB"
            data["fresh"] = interval is None or seconds <= 2 * interval
        return data  # the dashboard renders the panel with this mapping as `data`

    return [DashboardPanel("Last verified backup", "backup/panel.html", context, order=50)]


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .commands import register

    register(cli)
