"""Request hooks (correlation id, access log, profiles) and the health endpoints and page."""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    send_from_directory,
)

from soulspot import api
from soulspot.api import (
    STAGE_IDENTIFY,
    RequestPhase,
    current_user,
    exempt_from_limits,
    is_local_request,
    not_measured,
    probe,
    public,
)
from soulspot.errors import problem_response

from . import logs, profiling
from .config import ObservabilityConfig
from .health import HealthRunner, is_ready, overall, versions

HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def new_request_id() -> str:
    """32 random hex digits. Not ``os.urandom``: a request id is no secret (clients send
    their own), and a system call per request makes the request thread give up the GIL,
    which under load queues it behind every other busy thread."""
    return f"{random.getrandbits(128):032x}"  # nosec B311


EXT = "soulspot_observability"


bp = Blueprint("observability", __name__, template_folder="templates")

_LIVE_BODY = b'{"status":"ok"}\n'


@dataclass
class ObsState:
    config: ObservabilityConfig
    health: HealthRunner
    profiles_dir: Path


def state(app: Flask | None = None) -> ObsState:
    return cast(ObsState, api.state_for(EXT, app))


def install(app: Flask, config: ObservabilityConfig) -> None:
    """Configure logging and keep this plugin's per-app state."""
    data_dir = api.data_dir(app)
    api.set_state_for(
        EXT,
        ObsState(
            config=config,
            health=HealthRunner(app, config.health_cache_seconds),
            profiles_dir=data_dir / "profiles",
        ),
        app,
    )
    # An app built after one that was served (tests, CLI commands in one process) writes
    # its access lines itself until it is served: configure_logging stops the listener.
    stream = _default_stream()
    logs.configure_logging(
        level=_level_for(api.kernel_settings(app).log_level, config.log_format, stream),
        log_format=config.log_format,
        stream=stream,
        log_file=(data_dir / "logs" / "soulspot.log") if config.log_file else None,
        max_bytes=config.log_file_max_mb * 1024 * 1024,
        backups=config.log_file_backups,
    )
    logs.add_secrets(_secrets(app))


def request_phase(app: Flask) -> RequestPhase:
    """The identify phase: correlation id, log context, slow-request profile, access line.
    First of every phase, so its after-step is the last: the access line has the final
    status of every answer, refusals and errors included."""
    config = state(app).config
    access = config.access_log
    slow_ms = config.profile_slow_ms
    if slow_ms:
        import pyinstrument  # noqa: F401  # import now, not during the first request

    def before() -> None:
        incoming = request.environ.get("HTTP_X_REQUEST_ID")
        rid = incoming if incoming and _SAFE_ID.match(incoming) else new_request_id()
        g.request_id = rid
        g.obs_token = logs.bind_request(rid)
        if slow_ms:
            g.obs_profiler = profiling.start()
        g.obs_started = time.perf_counter()

    def after(response: Response) -> Response:
        rid = api.request_id()
        response.headers[HEADER] = rid
        started = g.get("obs_started")
        elapsed_ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        if slow_ms:
            profiler = g.pop("obs_profiler", None)
            if profiler is not None:
                _finish_profile(profiler, elapsed_ms, rid)
        if access:
            user = g.get("soulspot_user")
            logs.access_line(
                rid,
                request.method,
                request.path,
                response.status_code,
                elapsed_ms,
                user.id if user is not None else None,
                request.remote_addr,
            )
        # The request's log context ends here; lines from teardown steps still get the id
        # from flask.g.
        logs.unbind_request(g.get("obs_token"))
        return response

    return RequestPhase("observability.request", STAGE_IDENTIFY, before=before, after=after)


def _finish_profile(profiler: Any, elapsed_ms: float, rid: str) -> None:
    obs = state()
    try:
        profiling.finish(
            profiler,
            folder=obs.profiles_dir,
            keep=obs.config.profile_keep,
            elapsed_ms=elapsed_ms,
            threshold_ms=obs.config.profile_slow_ms,
            endpoint=request.endpoint or "unmatched",
            request_id=rid,
        )
    except Exception as exc:  # a profile must never break the response
        logging.getLogger("soulspot.observability.profiling").warning(
            "could not write profile", extra={"error": f"{type(exc).__name__}: {exc}"}
        )


def _default_stream() -> Any:
    """CLI commands keep stdout for their own output; logs go to stderr there. ``serve``
    switches back to stdout in ``before_serve``."""
    import click

    return "stderr" if click.get_current_context(silent=True) is not None else "stdout"


def _is_terminal(stream: str) -> bool:
    import sys

    target = sys.stdout if stream == "stdout" else sys.stderr
    try:
        return bool(target.isatty())
    except (AttributeError, ValueError):
        return False


def _level_for(level: str, log_format: str, stream: str) -> str:
    """A CLI command at a terminal shows only WARNING and above, as coloured console lines:
    its own output is what the person asked for, INFO lines (migrations, audit) would bury
    it. Everywhere else (``serve``, JSON, a pipe or a service manager) the configured level."""
    console = log_format == "console" or (log_format == "auto" and _is_terminal(stream))
    if stream == "stderr" and console:
        numeric = logging.getLevelName(level)
        if isinstance(numeric, int) and numeric < logging.WARNING:
            return "WARNING"
    return level


def use_stdout(app: Flask) -> None:
    config = state(app).config
    data_dir = api.data_dir(app)
    logs.configure_logging(
        level=api.kernel_settings(app).log_level,
        log_format=config.log_format,
        stream="stdout",
        log_file=(data_dir / "logs" / "soulspot.log") if config.log_file else None,
        max_bytes=config.log_file_max_mb * 1024 * 1024,
        backups=config.log_file_backups,
    )
    # Serving: request threads hand their access lines to one listener thread.
    logs.start_access_listener()


def _secrets(app: Flask) -> set[str]:
    found = api.secret_values(app)
    key = app.config.get("SECRET_KEY")
    if isinstance(key, str):
        found.add(key)
    return found


# --- health endpoints ----------------------------------------------------------------------


@bp.get("/health/live")
@probe
def live() -> Response:
    """The process answers. No checks, no database, no auth: cheap enough for every probe."""
    return Response(_LIVE_BODY, status=200, mimetype="application/json")


@bp.get("/health/ready")
@public
@exempt_from_limits
@not_measured
def ready() -> Response:
    outcomes = state().health.run(critical_only=True)
    ok = is_ready(outcomes)
    body: dict[str, Any] = {
        "status": "ready" if ok else "not ready",
        "checks": {o.name: o.status for o in outcomes},
    }
    if not ok:
        body["failing"] = [o.as_dict() for o in outcomes if o.status == "fail"]
    resp = jsonify(body)
    resp.status_code = 200 if ok else 503
    resp.headers["Cache-Control"] = "no-store"
    return resp


def may_see_details() -> bool:
    """The signed-in owner, or anyone on this machine (loopback)."""
    if is_local_request():
        return True
    user = current_user()
    return user is not None and user.is_owner


@bp.get("/health")
@public
@exempt_from_limits
@not_measured
def health() -> Response:
    if not may_see_details():
        user = current_user()
        if user is None:
            return problem_response(
                401, "Sign-in required", "Sign in as the owner (or ask from this machine)."
            )
        return problem_response(403, "Owner only", "Only the owner may see the full health.")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    outcomes = state().health.run()
    resp = jsonify(
        {
            "status": overall(outcomes),
            "ready": is_ready(outcomes),
            "checks": [o.as_dict() for o in outcomes],
            "versions": versions(app),
            "uptime_seconds": round(time.time() - api.started_at(), 1),
        }
    )
    resp.status_code = 200
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --- the Health page -----------------------------------------------------------------------


def _is_owner() -> bool:
    if not api.auth_enabled():
        return True  # no sign-in plugin: only loopback gets here at all
    user = current_user()
    return user is not None and user.is_owner


@bp.get("/system/health")
def health_page() -> str:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    obs = state()
    outcomes = obs.health.run()
    owner = _is_owner()
    return render_template(
        "observability/health.html",
        status=overall(outcomes),
        ready=is_ready(outcomes),
        outcomes=outcomes,
        versions=versions(app),
        owner=owner,
        profiles=profiling.list_profiles(obs.profiles_dir) if owner else [],
        profiling_on=obs.config.profile_slow_ms > 0,
        profile_slow_ms=obs.config.profile_slow_ms,
    )


@bp.get("/system/profiles/<name>")
def profile_file(name: str) -> Response:
    if not _is_owner():
        abort(403)
    if not profiling.NAME_RE.match(name):
        abort(404)
    resp = send_from_directory(
        state().profiles_dir, name, as_attachment=True, mimetype="text/html", max_age=0
    )
    return resp


def panel_context() -> dict[str, Any]:
    outcomes = state().health.run()
    return {
        "status": overall(outcomes),
        "ready": is_ready(outcomes),
        "problems": [o for o in outcomes if o.status != "ok"],
        "count": len(outcomes),
    }
