"""The kernel's small public API: what plugins may use (and nothing of each other).

Everything here works inside an app context (a request, a CLI command built with
:func:`soulspot.cli.with_app`, or a scheduled job).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import ipaddress
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import current_app, g, has_app_context, has_request_context, request

from .auth import OwnerClient
from .state import KernelState
from .stores import Storage
from .types import AuditEvent, User
from .vault import LibraryVault

F = TypeVar("F", bound=Callable[..., Any])

_SECRETISH = re.compile(
    r"token|secret|password|passphrase|verifier|authorization|cookie|^code$", re.IGNORECASE
)


def kernel() -> KernelState:
    """The current app's kernel state."""
    return cast(KernelState, current_app.extensions["soulspot"])


def config_for(plugin: str) -> Any:
    """The validated config model of ``plugin`` (``[plugins.<plugin>]``)."""
    return kernel().settings.plugins[plugin]


def data_dir() -> Path:
    return kernel().data_dir


def storage() -> Storage:
    """The store (the ``storage`` concern). Raises when no storage plugin is enabled; a plugin
    that needs it declares ``requires=("storage",)`` so that never happens to it."""
    store = kernel().storage
    if store is None:
        raise RuntimeError("no storage plugin is enabled")
    return store


def has_storage() -> bool:
    return kernel().storage is not None


def library() -> LibraryVault:
    """The owner's library vault (the ``library`` concern, read-only). Raises when no library
    plugin is enabled; a plugin that needs it declares ``requires=("library",)``."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    vault = kernel().hook.library_vault(app=app)
    if vault is None:
        raise RuntimeError("no library plugin is enabled")
    return cast(LibraryVault, vault)


def current_user() -> User | None:
    """The signed-in user of this request (``None`` when signed out or without auth). A
    request with ``Authorization: Bearer`` is the token's user (hook ``user_from_token``),
    never the cookie session's."""
    if not has_request_context():
        return None
    if "soulspot_user" not in g:
        token = bearer_token()
        if token is not None:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            g.soulspot_user = kernel().hook.user_from_token(app=app, token=token)
        else:
            auth = kernel().auth
            g.soulspot_user = auth.current_user() if auth is not None else None
    return cast(User | None, g.soulspot_user)


def owner_client() -> OwnerClient | None:
    """An authorised HTTP client for the owner's Spotify account (see
    :class:`soulspot.auth.OwnerClient`), from the auth concern; ``None`` when no auth plugin is
    enabled, it lends no client, or nobody has signed in yet."""
    auth = kernel().auth
    lend = getattr(auth, "owner_client", None) if auth is not None else None
    return cast(OwnerClient | None, lend()) if callable(lend) else None


def public(view: F) -> F:
    """Mark a view as reachable without signing in (health probes, the sign-in pages)."""
    view.soulspot_public = True  # type: ignore[attr-defined]
    return view


def probe(view: F) -> F:
    """Mark a liveness probe: public, and answered even in maintenance (a restore must not
    get the container restarted)."""
    view.soulspot_public = True  # type: ignore[attr-defined]
    view.soulspot_probe = True  # type: ignore[attr-defined]
    return view


def login_required(view: F) -> F:
    """Require a signed-in user. The kernel already guards every non-public view when an auth
    plugin is enabled; this decorator states it explicitly and guards views on its own."""
    from .web import login_gate

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        refused = login_gate()
        if refused is not None:
            return refused
        return view(*args, **kwargs)

    return cast(F, wrapped)


def request_id() -> str:
    """The correlation id of this request or job run (generated when nobody set one)."""
    if not has_app_context():
        return "-"
    rid = g.get("request_id")
    if rid is None:
        rid = g.request_id = uuid.uuid4().hex
    return cast(str, rid)


def is_loopback(addr: str | None) -> bool:
    """Whether ``addr`` (a client or bind address) is this machine: 127.0.0.0/8 or ::1."""
    if not addr:
        return False
    try:
        return ipaddress.ip_address(addr.split("%")[0]).is_loopback
    except ValueError:
        return False


#: Headers a reverse proxy adds (lower case). Without ``[kernel] trusted_proxies`` nothing
#: reads them, but their presence says a proxy forwarded the request from somewhere else.
FORWARDING_HEADERS = (
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
)
_FORWARDING_ENVIRON = tuple(f"HTTP_{h.upper().replace('-', '_')}" for h in FORWARDING_HEADERS)


def is_local_request() -> bool:
    """Whether this request comes from this machine. With ``[kernel] trusted_proxies`` the
    proxy's ``X-Forwarded-For`` gives the real client, so a loopback client is local. Without
    it, a reverse proxy on the same host makes every client 127.0.0.1: a request carrying any
    forwarding header (``X-Forwarded-For``, ``Forwarded``, ``X-Real-IP``...) came through such
    a proxy and is never local, whatever Host it names (a proxy may pass the client's Host
    on); without those, only a loopback client asking for a loopback name counts."""
    if not has_request_context() or not is_loopback(request.remote_addr):
        return False
    if kernel().settings.kernel.trusted_proxies > 0:
        return True
    environ = request.environ
    if any(key in environ for key in _FORWARDING_ENVIRON):
        return False
    name = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return name in ("localhost", "[::1]") or is_loopback(name)


def client_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


#: Longest bearer token looked at; longer ones are no token at all.
MAX_BEARER_TOKEN = 512


def bearer_token() -> str | None:
    """The token of this request's ``Authorization: Bearer <token>`` header, or ``None``."""
    if not has_request_context():
        return None
    header = request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > MAX_BEARER_TOKEN:
        return None
    return value


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
    kernel().hook.audit_event(app=current_app._get_current_object(), event=record)  # type: ignore[attr-defined]
    return record


@contextmanager
def maintenance(reason: str, *, drain_seconds: float = 60.0) -> Iterator[None]:
    """Put the app in maintenance: requests get 503 with Retry-After and the scheduler pauses.
    The block starts once every request already past the gate has ended (the caller's own
    excepted), so nothing a client was told succeeded is written behind the block's back;
    raises :class:`soulspot.inflight.StillBusy` when they take longer than ``drain_seconds``
    (maintenance is left again)."""
    from .inflight import wait_idle

    state = kernel()
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
    started = kernel().hook.start_span(app=app, name=name, attributes=attributes)
    return cast(AbstractContextManager[None], started) if started is not None else nullcontext()


def take_backup(trigger: str) -> str | None:
    """Ask the backup concern for a verified backup now; ``None`` when no backup plugin."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return cast(str | None, kernel().hook.take_backup(app=app, trigger=trigger))


def last_deploy() -> dict[str, Any]:
    """The outcome of the last ``soulspot-upgrade`` run as ``soulspot deploy record`` wrote it
    (``outcome``, ``from_version``, ``to_version``, ``reason``, ``time``,
    ``last_success_timestamp``, ``last_failure_timestamp``); ``{}`` when none was recorded."""
    from .upgrade.status import read_status

    return read_status(data_dir())


def _clean(details: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if not _SECRETISH.search(k)}


def data_dir_holder() -> str | None:
    """Another process using this app's data directory (``"pid N (soulspot serve on ...)"``),
    or ``None``: commands that replace data refuse while one runs."""
    from .datadir import holder

    return holder(data_dir())


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


@contextmanager
def building_one_off_command() -> Iterator[None]:
    """Mark the app built in this block as one for a one-off command (the CLI uses it)."""
    token = _ONE_OFF_COMMAND.set(True)
    try:
        yield
    finally:
        _ONE_OFF_COMMAND.reset(token)


def effective_config() -> list[dict[str, Any]]:
    """The effective configuration, as ``soulspot config show`` prints it: one
    ``{key, value, source}`` per key (source: ``default``, ``file``, ``env NAME``, ...),
    secrets masked. For pages that show an owner how SoulSpot is set up."""
    from .config_docs import effective_config as rows

    return rows(kernel().settings)


def config_file() -> Path | None:
    """The config file the effective configuration was read from (``None``: defaults only)."""
    path = kernel().settings.path
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
    if kernel().auth is None:
        return is_local_request()
    user = current_user()
    return user is not None and user.is_owner
