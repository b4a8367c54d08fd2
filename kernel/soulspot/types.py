"""Plain data types that hooks exchange. Import-light: no Flask, no pydantic at import time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

#: Concern names (``PluginManifest.provides`` / ``requires``): constants, so a typo is a
#: NameError instead of a concern nobody provides.
CONCERN_STORAGE = "storage"
CONCERN_AUTH = "auth"
CONCERN_BACKUP = "backup"
CONCERN_LIBRARY = "library"
CONCERN_CSRF = "csrf"
CONCERN_SECURITY_HEADERS = "security-headers"
CONCERN_RATE_LIMITS = "rate-limits"
CONCERN_METRICS = "metrics"
CONCERN_OBSERVABILITY = "observability"
CONCERN_TRACING = "tracing"
CONCERN_NOTIFY = "notify"

#: Concerns that at most one enabled plugin may provide.
EXCLUSIVE_CONCERNS = frozenset({CONCERN_STORAGE, CONCERN_AUTH, CONCERN_BACKUP, CONCERN_LIBRARY})


@dataclass(frozen=True)
class PluginManifest:
    """What a plugin tells the kernel about itself (returned by the ``manifest`` hook).

    ``config_model`` is a pydantic model class, or a ``"module:attr"`` string resolved only
    when the app is built (so the CLI can load plugins without importing pydantic).
    """

    provides: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    config_model: type[Any] | str | None = None
    kernel: str = ">=0.1,<1.0"
    description: str = ""


@dataclass(frozen=True)
class NavItem:
    """An entry in the UI's navigation bar: a link, or (``method="post"``) a button in a
    CSRF-protected form, like "Sign out". Shown only to a signed-in user (or everyone when no
    auth plugin is enabled) unless ``public``."""

    label: str
    endpoint: str
    order: int = 100
    method: Literal["get", "post"] = "get"
    public: bool = False


@dataclass(frozen=True)
class DashboardPanel:
    """A panel on the dashboard: ``template`` is rendered with ``context()``'s mapping."""

    title: str
    template: str
    context: Callable[[], Mapping[str, Any]]
    order: int = 100


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one health check."""

    status: Literal["ok", "warn", "fail"]
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthCheck:
    """A named health check. ``critical`` checks decide readiness; others only warn."""

    name: str
    check: Callable[[], CheckResult]
    critical: bool = False
    timeout: float = 2.0


@dataclass(frozen=True)
class Job:
    """A scheduled job. ``trigger`` and ``trigger_args`` are APScheduler's (``"interval"``,
    ``{"hours": 24}``; ``"cron"``, ``{"hour": 3}``). ``run_at_start`` runs it once as soon as the
    scheduler starts (for overdue work)."""

    id: str
    func: Callable[[], Any]
    trigger: str
    trigger_args: Mapping[str, Any] = field(default_factory=dict)
    misfire_grace_time: int = 3600
    run_at_start: bool = False


@dataclass(frozen=True)
class Migration:
    """One schema step of one plugin. ``upgrade``/``downgrade`` get the peewee database and a
    ``playhouse.migrate`` migrator for it; both run inside one transaction."""

    plugin: str
    version: int
    name: str
    upgrade: Callable[[Any, Any], None]
    downgrade: Callable[[Any, Any], None]


@dataclass(frozen=True)
class BackupSource:
    """Something a backup must contain.

    ``snapshot(dest)`` writes a consistent copy of the source into the empty directory ``dest``
    (online: writers keep working). ``restore(src)`` puts the files from ``src`` back in place
    atomically. ``verify(src)`` returns a list of problems (empty when the copy is sound).
    ``sensitive`` sources (keys) go only into passphrase-encrypted backups.

    ``stage(src)`` (optional, preferred for anything big) does the slow part of a restore
    before any live file changes: check the copy, put it next to the live files; it returns
    :class:`StagedRestore`, whose ``swap()`` only renames. A restore stages every source
    first, then swaps them one right after the other, so a database and the keys that open
    its tokens change together. Sources without ``stage`` are restored by ``restore(src)``
    in the swap step (keep them small).
    """

    name: str
    snapshot: Callable[[Path], None]
    restore: Callable[[Path], None]
    verify: Callable[[Path], list[str]] = lambda _src: []
    sensitive: bool = False
    #: Schema versions per plugin captured with the snapshot (for newer-schema refusal).
    schema_versions: Callable[[], Mapping[str, int]] = lambda: {}
    stage: Callable[[Path], StagedRestore] | None = None


@dataclass(frozen=True)
class StagedRestore:
    """A source's restore, staged: ``swap()`` puts the staged files in place (renames only),
    ``discard()`` removes them when the restore stops before the swap."""

    swap: Callable[[], None]
    discard: Callable[[], None]


@dataclass(frozen=True)
class User:
    """The signed-in person, as the auth concern knows them."""

    id: str
    display_name: str
    is_owner: bool = True


@dataclass(frozen=True)
class AuditEvent:
    """One sensitive action. ``details`` never contains secrets (the kernel drops known
    secret-looking keys before fan-out)."""

    event: str
    time: dt.datetime
    actor: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    outcome: Literal["ok", "failed", "refused"] = "ok"
    details: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class SessionIssuer(Protocol):
    """What an auth provider (returned by the ``auth_provider`` hook) may also offer: sign a
    user in without the interactive sign-in, with the same server-side sessions a completed
    sign-in creates. :func:`soulspot.testing.session_cookies` uses it, so plugin tests and
    scripts can be signed in without a stand-in of the identity provider."""

    def issue_session(self, user: User) -> Mapping[str, str]:
        """Create a session for ``user`` and return the cookies (name -> value) that carry
        it. Runs inside an app context; raises :class:`PermissionError` (with a message
        saying why) when the provider would refuse that user a sign-in."""
        ...


# --- the request pipeline (see docs/architecture.md, "A request") ---------------------------

#: Request stages, in the order their before-steps run (after-steps run in reverse).
STAGE_IDENTIFY = 100  #: who is asking: request id, log context, database binding
STAGE_MEASURE = 200  #: timing and counting: sees every answer, refusals included
STAGE_GUARD = 300  #: refusals before the view: body size, CORS preflight, rate limits, CSRF
STAGE_GATE = 400  #: the kernel's gate: maintenance, the loopback rule, sign-in


@dataclass(frozen=True)
class RequestPhase:
    """One plugin's part of every request (returned by the ``request_phases`` hook).

    The kernel runs the ``before`` steps by ``(stage, name)``; the first that returns a
    response (or raises) refuses the request and the later ones do not run. Every ``after``
    step then runs, in reverse order, on whatever answer the request got (the view's, a
    refusal, an error page), so an after-step must not assume its before-step ran.
    ``teardown`` steps run last, in reverse order, with the exception the request ended in.

    ``probes``: whether the phase also runs for views marked ``soulspot.api.probe`` (liveness
    probes arrive every few seconds; a phase with nothing to do for them says ``False``).
    """

    name: str
    stage: int
    before: Callable[[], Any] | None = None
    after: Callable[[Any], Any] | None = None
    teardown: Callable[[BaseException | None], None] | None = None
    probes: bool = True


@dataclass(frozen=True)
class Middleware:
    """WSGI middleware around the Flask app (returned by the ``wsgi_middleware`` hook):
    ``wrap(wsgi_app)`` returns the wrapped app. Lower ``order`` is further out (it sees the
    request first); ties go by ``name``."""

    name: str
    order: int
    wrap: Callable[[Any], Any]


@runtime_checkable
class SessionKeySource(Protocol):
    """What an auth provider with sessions may also offer: which session this request is.
    :func:`soulspot.api.current_session_key` asks it (the rate-limit concern counts
    signed-in requests per session with it, never per address)."""

    def session_key(self) -> str | None:
        """An opaque key of the current request's valid session (stable for the session,
        different for every other, not usable as a credential), or ``None`` when the request
        carries no valid session. Runs inside a request."""
        ...
