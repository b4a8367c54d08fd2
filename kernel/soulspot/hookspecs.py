"""Every hook a SoulSpot plugin can implement, grouped by concern.

A plugin is a module (named by a ``soulspot.plugins`` entry point) with functions marked
``@soulspot.hookimpl`` whose names match these specs. Arguments may be omitted from an
implementation (pluggy passes only what it asks for). Hooks marked *firstresult* stop at the
first non-``None`` answer; the others collect a list of every plugin's answer.

``docs/plugins.md`` documents each hook, and a meta-test fails when a spec here lacks its
section there or a test that exercises it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import click
    from flask import Blueprint, Flask

    from .replication import PointInTimeSource
    from .stores import Storage
    from .types import (
        AuditEvent,
        BackupSource,
        DashboardPanel,
        HealthCheck,
        Job,
        Middleware,
        Migration,
        NavItem,
        PluginManifest,
        RequestPhase,
        User,
    )
    from .vault import LibraryVault, SyncChanges

hookspec = pluggy.HookspecMarker("soulspot")


# --- lifecycle and config ------------------------------------------------------------------


@hookspec
def manifest() -> PluginManifest:  # type: ignore[empty-body]
    """Describe this plugin: concerns it ``provides`` and ``requires``, its config model and
    the kernel versions it works with. Required of every plugin; the kernel calls each
    plugin's implementation on its own and refuses to start on a broken manifest."""


@hookspec
def init_app(app: Flask) -> None:
    """Configure the Flask app before any blueprint is registered: Flask extensions and
    template globals only. Request behaviour goes through :func:`request_phases` (its order
    is the kernel's, not the plugins' registration order).

    :param app: the app being built (no app context yet)."""


@hookspec
def startup(app: Flask) -> None:
    """The app is built and registration is closed; runs inside an app context. Open
    resources here (the store opens the database and applies migrations)."""


@hookspec
def before_serve(app: Flask) -> None:
    """Only ``soulspot serve`` calls this, once, after the scheduler started and before the
    server accepts connections (print a one-time setup token, warm caches)."""


@hookspec
def shutdown(app: Flask) -> None:
    """The serving process is stopping (SIGTERM, Ctrl-C): release what ``startup`` opened."""


# --- web -----------------------------------------------------------------------------------


@hookspec
def request_phases(app: Flask) -> Iterable[RequestPhase]:  # type: ignore[empty-body]
    """Collects a list: this plugin's steps of every request, each a
    :class:`soulspot.types.RequestPhase` at one stage (``STAGE_IDENTIFY``, ``STAGE_MEASURE``,
    ``STAGE_GUARD``; the kernel's gate is ``STAGE_GATE``). The kernel runs before-steps by
    ``(stage, name)`` and every after-step in reverse, refusals and errors included
    (docs/architecture.md, "A request"). Called once per app, after ``init_app``.

    :param app: the app being built.
    :return: the phases (an empty list for none)."""


@hookspec
def wsgi_middleware(app: Flask) -> Iterable[Middleware]:  # type: ignore[empty-body]
    """Collects a list: WSGI middleware to wrap around the app, each a
    :class:`soulspot.types.Middleware`; the lowest ``order`` is outermost (sees the request
    first). Called once per app, after ``request_phases``.

    :param app: the app being built.
    :return: the middleware (an empty list for none)."""


@hookspec
def register_blueprints(app: Flask) -> Iterable[Blueprint]:  # type: ignore[empty-body]
    """Return Flask blueprints with this plugin's pages and API routes. Views are behind the
    login gate unless decorated with :func:`soulspot.api.public`."""


@hookspec
def nav_items(app: Flask) -> Iterable[NavItem]:  # type: ignore[empty-body]
    """Links this plugin adds to the UI's navigation bar."""


@hookspec
def dashboard_panels(app: Flask) -> Iterable[DashboardPanel]:  # type: ignore[empty-body]
    """Panels this plugin adds to the dashboard at ``/``."""


# --- CLI -----------------------------------------------------------------------------------


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add sub-commands to ``soulspot``. Keep imports inside the command bodies: this runs
    on every ``soulspot --help``. Use :func:`soulspot.cli.with_app` for commands that need
    the app (it builds one, without a scheduler, and pushes an app context)."""


# --- storage (exclusive) -------------------------------------------------------------------


@hookspec(firstresult=True)
def storage(app: Flask) -> Storage | None:
    """*firstresult*, exclusive concern ``storage``: return the store (see
    :class:`soulspot.stores.Storage`). Called once per app, before ``startup``."""


@hookspec
def migrations() -> Iterable[Migration]:  # type: ignore[empty-body]
    """This plugin's schema steps (its own tables), versioned per plugin from 1. The storage
    concern applies them in order and can run each one's downgrade."""


# --- auth (exclusive) ----------------------------------------------------------------------


@hookspec(firstresult=True)
def auth_provider(app: Flask) -> Any:
    """*firstresult*, exclusive concern ``auth``: return an object with
    ``current_user() -> soulspot.types.User | None`` (for the current request),
    ``login_url(next_url: str) -> str`` and ``owner_client()`` (see
    :class:`soulspot.auth.AuthProvider`). With it, the kernel's login gate guards every view
    not marked public.

    :param app: the app being built.
    :return: the provider, or ``None`` when this plugin does not provide ``auth``."""


@hookspec(firstresult=True)
def user_from_token(app: Flask, token: str) -> User | None:
    """*firstresult*: the request carries ``Authorization: Bearer <token>``; return the user
    it stands for, or ``None`` (not yours, unknown, expired, revoked). Such a request is
    authenticated by the token alone: :func:`soulspot.api.current_user` returns this answer
    and never asks the auth concern's cookie session (so a token request carries no ambient
    credentials, and CSRF does not apply to it). The security plugin's personal API tokens
    implement it; scopes and limits are the implementer's request checks.

    :param app: the Flask app.
    :param token: the bearer token as sent (at most 512 characters)."""


# --- audit ---------------------------------------------------------------------------------


@hookspec
def audit_event(app: Flask, event: AuditEvent) -> None:
    """A sensitive action happened (:func:`soulspot.api.audit` fans it out here): the store
    appends it, logs write it, metrics count it. Must not raise."""


# --- observability -------------------------------------------------------------------------


@hookspec
def health_checks(app: Flask) -> Iterable[HealthCheck]:  # type: ignore[empty-body]
    """Checks for ``/health`` and ``/health/ready``. ``critical`` checks decide readiness;
    only include what this process needs to serve (never an internet service)."""


@hookspec
def dependency_versions(app: Flask) -> Mapping[str, str]:  # type: ignore[empty-body]
    """Versions worth showing on ``/health`` (``{"sqlite": "3.45.1"}``)."""


@hookspec
def metrics(app: Flask) -> Iterable[Any]:  # type: ignore[empty-body]
    """Prometheus collectors (``prometheus_client`` metrics made with ``registry=None``, or
    custom collectors) for the metrics concern to register in the app's own registry."""


@hookspec(firstresult=True)
def start_span(
    app: Flask, name: str, attributes: Mapping[str, str | int | float | bool]
) -> AbstractContextManager[None] | None:
    """*firstresult*, the tracing concern: a context manager that records ``name`` as a span
    (a child of the current one) while it is entered. :func:`soulspot.api.span` asks this
    hook; with no tracing plugin nobody answers and the work runs untraced at no cost.

    :param name: what the work is (``library.sync playlists``, ``job backup``).
    :param attributes: attributes of the span; never secrets (tokens, codes, cookies).
    """


@hookspec
def job_executed(
    app: Flask, job_id: str, run_id: str, duration: float, error: BaseException | None
) -> None:
    """A scheduled job finished (``error`` set when it raised): for logs and metrics."""


# --- backup --------------------------------------------------------------------------------


@hookspec
def backup_sources(app: Flask) -> Iterable[BackupSource]:  # type: ignore[empty-body]
    """What a backup must contain from this plugin, and how to put it back."""


@hookspec(firstresult=True)
def take_backup(app: Flask, trigger: str) -> str | None:
    """*firstresult*, exclusive concern ``backup``: take and verify a backup now and return its
    id. ``trigger`` is ``manual``, ``scheduled``, ``pre-migration`` or ``pre-restore``. Other
    plugins call it before destructive work (the store, before migrating)."""


# --- scheduler -----------------------------------------------------------------------------


@hookspec
def jobs(app: Flask) -> Iterable[Job]:  # type: ignore[empty-body]
    """Scheduled jobs. Only the serving process runs a scheduler (one per process); each run
    gets an app context and a run id that logs carry as the request id. Called inside an app
    context, so the hook may read its settings with :func:`soulspot.api.config_for`."""


# --- library (exclusive) -------------------------------------------------------------------


@hookspec(firstresult=True)
def library_vault(app: Flask) -> LibraryVault | None:
    """*firstresult*, exclusive concern ``library``: return the owner's library vault (see
    :class:`soulspot.vault.LibraryVault`), read-only. Other plugins reach it through
    :func:`soulspot.api.library`.

    :param app: the app being asked.
    :return: the vault, or ``None`` from plugins that do not provide one.
    """


@hookspec
def library_synced(app: Flask, changes: SyncChanges) -> None:
    """A library sync run finished and changed something (collects a list; answers ignored).
    Runs inside the sync's app context after its changes are committed.

    :param app: the app that synced.
    :param changes: what the run changed (:class:`soulspot.vault.SyncChanges`).
    """


# --- point-in-time recovery ----------------------------------------------------------------


@hookspec(firstresult=True)
def point_in_time_source(app: Flask) -> PointInTimeSource | None:
    """*firstresult*: the continuous replica of the database this app writes to (see
    :class:`soulspot.replication.PointInTimeSource`), or ``None`` when replication is off.
    The backup plugin restores from it (``soulspot backup restore --at``); the storage plugin
    leaves WAL checkpoints to it when ``owns_checkpoints``. Reach it through
    :func:`soulspot.api.point_in_time_source`.

    :param app: the app being asked.
    :return: the source, or ``None`` from plugins that keep no replica.
    """
