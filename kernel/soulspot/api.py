"""The kernel's small public API: what plugins may use (and nothing of each other).

Everything here works inside an app context (a request, a CLI command built with
:func:`soulspot.cli.with_app`, or a scheduled job).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from flask import Flask, current_app, has_app_context, has_request_context, request

from .auth import OwnerClient
from .context import (
    FORWARDING_HEADERS,
    MAX_BEARER_TOKEN,
    bearer_token,
    client_ip,
    csrf_exempt,
    current_user,
    exempt_from_limits,
    is_csrf_exempt,
    is_exempt_from_limits,
    is_local_request,
    is_loopback,
    is_measured,
    is_probe,
    is_public,
    not_measured,
    probe,
    public,
    request_id,
    request_view,
)
from .files import atomic_write as atomic_write  # plugins replace files through this
from .files import fsync_dir as fsync_dir
from .gate import login_required
from .replication import PointInTimeSource
from .state import KernelState
from .stores import Storage
from .types import (
    CONCERN_AUTH,
    CONCERN_BACKUP,
    CONCERN_CSRF,
    CONCERN_LIBRARY,
    CONCERN_METRICS,
    CONCERN_NOTIFY,
    CONCERN_OBSERVABILITY,
    CONCERN_RATE_LIMITS,
    CONCERN_SECURITY_HEADERS,
    CONCERN_STORAGE,
    CONCERN_TRACING,
    STAGE_GATE,
    STAGE_GUARD,
    STAGE_IDENTIFY,
    STAGE_MEASURE,
    AuditEvent,
    Middleware,
    RequestPhase,
    SessionKeySource,
)
from .vault import LibraryVault

if TYPE_CHECKING:  # pragma: no cover
    from .config import KernelConfig

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_SECRETISH = re.compile(
    r"token|secret|password|passphrase|verifier|authorization|cookie|^code$", re.IGNORECASE
)

__all__ = [
    "CONCERN_AUTH",
    "CONCERN_BACKUP",
    "CONCERN_CSRF",
    "CONCERN_LIBRARY",
    "CONCERN_METRICS",
    "CONCERN_NOTIFY",
    "CONCERN_OBSERVABILITY",
    "CONCERN_RATE_LIMITS",
    "CONCERN_SECURITY_HEADERS",
    "CONCERN_STORAGE",
    "CONCERN_TRACING",
    "FORWARDING_HEADERS",
    "MAX_BEARER_TOKEN",
    "STAGE_GATE",
    "STAGE_GUARD",
    "STAGE_IDENTIFY",
    "STAGE_MEASURE",
    "Middleware",
    "RequestPhase",
    "SignInStep",
    "announce",
    "atomic_write",
    "audit",
    "auth_enabled",
    "bearer_token",
    "body_limit",
    "building_one_off_command",
    "claim_data_dir",
    "client_ip",
    "config_file",
    "config_for",
    "config_path",
    "csrf_exempt",
    "current_session_key",
    "current_user",
    "data_dir",
    "data_dir_holder",
    "docs_url",
    "effective_config",
    "enabled_plugins",
    "ends_session",
    "exempt_from_limits",
    "fsync_dir",
    "has_storage",
    "hook",
    "is_csrf_exempt",
    "is_exempt_from_limits",
    "is_local_request",
    "is_loopback",
    "is_measured",
    "is_owner",
    "is_probe",
    "is_public",
    "is_session_ending",
    "kernel_settings",
    "last_deploy",
    "library",
    "login_required",
    "maintenance",
    "maintenance_reason",
    "not_measured",
    "one_off_command",
    "owner_client",
    "point_in_time_source",
    "probe",
    "public",
    "read_only_command",
    "request_id",
    "request_view",
    "secret_values",
    "set_state_for",
    "sign_in_step",
    "sign_in_step_of",
    "span",
    "started_at",
    "state_for",
    "storage",
    "take_backup",
]


def _state(app: Flask | None = None) -> KernelState:
    target = app if app is not None else current_app
    return cast(KernelState, target.extensions["soulspot"])


def kernel() -> KernelState:
    """The current app's kernel state.

    .. deprecated:: use the accessors of this module (``kernel_settings``, ``data_dir``,
       ``hook``, ``state_for`` ...): the kernel's state is not part of the plugin API."""
    warnings.warn(
        "soulspot.api.kernel() is deprecated: use soulspot.api's accessors "
        "(kernel_settings, data_dir, hook, state_for, ...)",
        DeprecationWarning,
        stacklevel=2,
    )
    return _state()


# --- settings, data dir, hooks: what every plugin reads -------------------------------------
#
# Each takes ``app`` for the hooks that get one (``init_app``, ``startup`` ...) and work
# before an app context exists; inside a request, a job or a CLI command it may be omitted.


def config_for(plugin: str, app: Flask | None = None) -> Any:
    """The validated config model of ``plugin`` (``[plugins.<plugin>]``)."""
    return _state(app).settings.plugins[plugin]


def kernel_settings(app: Flask | None = None) -> KernelConfig:
    """The validated ``[kernel]`` section (``public_url``, ``trusted_proxies``, ``port`` ...)."""
    return _state(app).settings.kernel


def config_path(app: Flask | None = None) -> Path | None:
    """The config file the app was built from (``None``: defaults and environment only)."""
    return _state(app).settings.path


def secret_values(app: Flask | None = None) -> set[str]:
    """Every secret value the configuration holds (to keep them out of logs and copies)."""
    from .config import secret_values as values

    return set(values(_state(app).settings))


def data_dir(app: Flask | None = None) -> Path:
    return _state(app).data_dir


def hook(app: Flask | None = None) -> Any:
    """The app's hook relay (``hook(app).health_checks(app=app)``): to ask every plugin."""
    return _state(app).pm.hook


def enabled_plugins(app: Flask | None = None) -> dict[str, str]:
    """``{name: version}`` of every enabled plugin."""
    return {p.name: p.version for p in _state(app).plugins if p.enabled}


def started_at(app: Flask | None = None) -> float:
    """When the app was built (``time.time()``): for uptimes."""
    return _state(app).started_at


def auth_enabled(app: Flask | None = None) -> bool:
    """Whether a plugin provides the ``auth`` concern (the login gate guards views)."""
    return _state(app).auth is not None


def state_for(plugin: str, app: Flask | None = None) -> Any:
    """What ``plugin`` keeps for this app (set with :func:`set_state_for`); raises
    ``LookupError`` naming the plugin when it set nothing."""
    try:
        return _state(app).plugin_state[plugin]
    except KeyError:
        raise LookupError(f"plugin {plugin!r} keeps no state in this app") from None


def set_state_for(plugin: str, value: T, app: Flask | None = None) -> T:
    """Keep ``value`` as ``plugin``'s per-app state (usually in ``init_app``)."""
    _state(app).plugin_state[plugin] = value
    return value


def storage(app: Flask | None = None) -> Storage:
    """The store (the ``storage`` concern). Raises when no storage plugin is enabled; a plugin
    that needs it declares ``requires=(CONCERN_STORAGE,)`` so that never happens to it."""
    store = _state(app).storage
    if store is None:
        raise RuntimeError("no storage plugin is enabled")
    return store


def has_storage(app: Flask | None = None) -> bool:
    return _state(app).storage is not None


def library(app: Flask | None = None) -> LibraryVault:
    """The owner's library vault (the ``library`` concern, read-only). Raises when no library
    plugin is enabled; a plugin that needs it declares ``requires=(CONCERN_LIBRARY,)``."""
    target = app if app is not None else current_app._get_current_object()  # type: ignore[attr-defined]
    vault = _state(target).pm.hook.library_vault(app=target)
    if vault is None:
        raise RuntimeError("no library plugin is enabled")
    return cast(LibraryVault, vault)


def owner_client(app: Flask | None = None) -> OwnerClient | None:
    """An authorised HTTP client for the owner's Spotify account (see
    :class:`soulspot.auth.OwnerClient`), from the auth concern; ``None`` when no auth plugin is
    enabled, it lends no client, or nobody has signed in yet."""
    auth = _state(app).auth
    lend = getattr(auth, "owner_client", None) if auth is not None else None
    return cast(OwnerClient | None, lend()) if callable(lend) else None


def audit(
    event: str,
    *,
    outcome: str = "ok",
    actor: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Record a sensitive action: fanned out to every ``audit_event`` hook (store, logs,
    metrics). Secret-looking detail keys are dropped before anyone sees them."""
    if actor is None:
        user = current_user()
        actor = user.id if user else None
    in_request = has_request_context()
    record = AuditEvent(
        event=event,
        time=dt.datetime.now(dt.UTC),
        actor=actor,
        ip=request.remote_addr if in_request else None,
        user_agent=(request.user_agent.string or None) if in_request else None,
        request_id=request_id(),
        outcome=outcome,  # type: ignore[arg-type]
        details=_clean(details),
    )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _state(app).pm.hook.audit_event(app=app, event=record)
    return record


def maintenance_reason(app: Flask | None = None) -> str | None:
    """Why the app is in maintenance right now (``None``: it is not); requests other than
    probes are refused with 503 meanwhile, and the database may be being replaced."""
    return _state(app).maintenance_reason


@contextmanager
def maintenance(reason: str, *, drain_seconds: float = 60.0) -> Iterator[None]:
    """Put the app in maintenance: requests get 503 with Retry-After and the scheduler pauses.
    The block starts once every request already past the gate has ended (the caller's own
    excepted), so nothing a client was told succeeded is written behind the block's back;
    raises :class:`soulspot.inflight.StillBusy` when they take longer than ``drain_seconds``
    (maintenance is left again)."""
    from .inflight import wait_idle

    state = _state()
    with state.lock:
        previous = state.maintenance_reason
        state.maintenance_reason = reason
        if state.scheduler is not None and previous is None:
            state.scheduler.pause()
    try:
        wait_idle(current_app._get_current_object(), drain_seconds)  # type: ignore[attr-defined]
        yield
    finally:
        with state.lock:
            state.maintenance_reason = previous
            if state.scheduler is not None and previous is None:
                state.scheduler.resume()


def span(name: str, **attributes: str | int | float | bool) -> AbstractContextManager[None]:
    """Record the work inside the ``with`` block as a span of the current trace, when the
    tracing concern is enabled (``start_span`` hook); otherwise a no-op. Name units of work
    a person would look for (``library.sync playlists``); never put secrets in attributes."""
    if not has_app_context():
        return nullcontext()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    started = _state(app).pm.hook.start_span(app=app, name=name, attributes=attributes)
    return cast(AbstractContextManager[None], started) if started is not None else nullcontext()


def take_backup(trigger: str) -> str | None:
    """Ask the backup concern for a verified backup now; ``None`` when no backup plugin."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return cast(str | None, _state(app).pm.hook.take_backup(app=app, trigger=trigger))


def last_deploy() -> dict[str, Any]:
    """The outcome of the last ``soulspot-upgrade`` run as ``soulspot deploy record`` wrote it
    (``outcome``, ``from_version``, ``to_version``, ``reason``, ``time``,
    ``last_success_timestamp``, ``last_failure_timestamp``); ``{}`` when none was recorded."""
    from .upgrade.status import read_status

    return read_status(data_dir())


def _clean(details: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if not _SECRETISH.search(k)}


def data_dir_holder(app: Flask | None = None) -> str | None:
    """Another process using this app's data directory (``"pid N (soulspot serve on ...)"``),
    or ``None``: commands that replace data refuse while one runs."""
    from .datadir import holder

    return holder(data_dir(app))


@contextmanager
def claim_data_dir(what: str) -> Iterator[None]:
    """Hold this app's data directory for ``what`` during the block, so no ``soulspot serve``
    starts meanwhile; raises :class:`soulspot.datadir.DataDirBusy` (a ``ConfigError``) naming
    the process that holds it. Re-entrant within the serving process."""
    from .datadir import claimed

    with claimed(data_dir(), what):
        yield


#: Set by the ``soulspot`` CLI while it builds the app of a one-off command (everything but
#: ``serve``): see :func:`one_off_command`.
_ONE_OFF_COMMAND: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "soulspot_one_off_command", default=False
)


def one_off_command() -> bool:
    """The app is being built for a one-off CLI command (``soulspot backup list``, ...), not
    for ``soulspot serve`` or a program embedding SoulSpot. Such a command must not change
    the schema on its own: pending migrations wait for ``serve`` or ``db upgrade`` (a
    migration applied by ``backup list`` would silently undo a ``db downgrade``)."""
    return _ONE_OFF_COMMAND.get()


#: Set by the ``soulspot`` CLI while it builds the app of a read-only command (``backup
#: list``, ``db status``, ...): see :func:`read_only_command`.
_READ_ONLY_COMMAND: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "soulspot_read_only_command", default=False
)


def read_only_command() -> bool:
    """The app is being built for a command that only reads existing data. Such a command
    must not create a data directory, a key or a database: on a wrong ``--data-dir`` it would
    report an empty instance as if it were the real one. The kernel refuses a data directory
    that does not exist; a storage plugin refuses one that holds no database (raising
    :class:`soulspot.exceptions.ConfigError`, which the CLI prints, exit 2)."""
    return _READ_ONLY_COMMAND.get()


@contextmanager
def building_one_off_command(*, read_only: bool = False) -> Iterator[None]:
    """Mark the app built in this block as one for a one-off command (the CLI uses it);
    ``read_only``: a command that only reads existing data (:func:`read_only_command`)."""
    token = _ONE_OFF_COMMAND.set(True)
    read_only_token = _READ_ONLY_COMMAND.set(read_only)
    try:
        yield
    finally:
        _READ_ONLY_COMMAND.reset(read_only_token)
        _ONE_OFF_COMMAND.reset(token)


# --- sessions and rate limits ----------------------------------------------------------------


def ends_session(view: F) -> F:
    """Mark a view that ends or revokes sessions (sign-out, "revoke this session", "revoke
    all"). A rate limit never refuses it for a request that carries a valid session: whatever
    spends the limits of the owner's address, or of their session, must not keep a session
    alive. Without a valid session it is limited like any other view."""
    view.soulspot_ends_session = True  # type: ignore[attr-defined]
    return view


def is_session_ending(view: Callable[..., Any] | None) -> bool:
    """Whether ``view`` was marked with :func:`ends_session`."""
    return bool(getattr(view, "soulspot_ends_session", False))


SignInStep = Literal["start", "callback"]


def sign_in_step(step: SignInStep) -> Callable[[F], F]:
    """Mark the view that starts an interactive sign-in (``"start"``) or takes the identity
    provider's answer (``"callback"``): the rate-limit concern gives each a limit of its own
    (``[plugins.security] rate_limit_sign_in`` / ``rate_limit_sign_in_callback``), apart from
    the other sign-in pages, so spending those does not stop a sign-in."""

    def mark(view: F) -> F:
        view.soulspot_sign_in_step = step  # type: ignore[attr-defined]
        return view

    return mark


def sign_in_step_of(view: Callable[..., Any] | None) -> SignInStep | None:
    """The :func:`sign_in_step` ``view`` was marked with, or ``None``."""
    return cast(SignInStep | None, getattr(view, "soulspot_sign_in_step", None))


def current_session_key() -> str | None:
    """An opaque key of this request's valid session, the same on every request of that
    session and different for every other (from the auth provider, when it offers
    :class:`soulspot.types.SessionKeySource`). ``None`` without a valid session, for a
    request with ``Authorization: Bearer`` (a token request is never its cookie's session),
    outside a request, and during maintenance (no session is looked up while a restore may
    be replacing the store). Rate limits count signed-in requests by it."""
    if not has_request_context() or bearer_token() is not None:
        return None
    state = _state()
    if state.maintenance_reason is not None or state.auth is None:
        return None
    if not isinstance(state.auth, SessionKeySource):
        return None
    return state.auth.session_key()


def point_in_time_source(app: Any = None) -> PointInTimeSource | None:
    """The database's continuous replica (hook ``point_in_time_source``), or ``None`` when
    replication is off. ``app`` defaults to the current app (the storage plugin asks while
    the app is being built, before any app context exists)."""
    if app is None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    return cast(PointInTimeSource | None, hook(app).point_in_time_source(app=app))


def announce(message: str) -> None:
    """Tell the person who started SoulSpot something at start-up (a setup link): stderr,
    never the JSON log lines on stdout; set apart on a terminal (``soulspot.console``)."""
    from .console import announce as write

    write(message)


def effective_config() -> list[dict[str, Any]]:
    """The effective configuration, as ``soulspot config show`` prints it: one
    ``{key, value, source}`` per key (source: ``default``, ``file``, ``env NAME``, ...),
    secrets masked. For pages that show an owner how SoulSpot is set up."""
    from .config_docs import effective_config as rows

    return rows(_state().settings)


def config_file() -> Path | None:
    """The config file the effective configuration was read from (``None``: defaults only)."""
    path = _state().settings.path
    return Path(path) if path is not None else None


#: Where the documentation lives (the ``Documentation`` URL of the distribution's metadata).
_DOCS_FALLBACK = "https://soulspot.invalid/docs/"


@functools.cache
def _docs_base() -> str:
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls: list[str] = list(metadata("soulspot").get_all("Project-URL") or [])
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        urls = []
    for entry in urls:  # "Documentation, https://..."
        label, _, url = entry.partition(",")
        if label.strip().lower() == "documentation" and url.strip():
            return url.strip().rstrip("/") + "/"
    return _DOCS_FALLBACK


def docs_url(page: str) -> str:
    """The URL of a documentation page (``"backup.md#the-backups-page"``), for links in pages:
    one place knows where the docs are published."""
    return _docs_base() + page.lstrip("/")


def body_limit(limit: Callable[[], int]) -> Callable[[F], F]:
    """Let a view accept a request body larger than the app-wide cap (a backup upload):
    ``limit()`` (called per request, in the app context) is the view's own cap in bytes. The
    plugin that enforces body sizes reads the marker ``soulspot_body_limit``, and
    ``@validate`` sets Flask's per-request ``max_content_length`` to the same cap before it
    reads the form (Flask >= 3.1), so the view is bounded without that plugin too. Apply it
    above ``@validate``."""

    def mark(view: F) -> F:
        view.soulspot_body_limit = limit  # type: ignore[attr-defined]
        return view

    return mark


def is_owner() -> bool:
    """The current request may do what only the owner may (settings, restoring uploads): the
    signed-in user is the owner, or no sign-in plugin is enabled and the request comes from
    this machine (the kernel allows nothing else then)."""
    if _state().auth is None:
        return is_local_request()
    user = current_user()
    return user is not None and user.is_owner
