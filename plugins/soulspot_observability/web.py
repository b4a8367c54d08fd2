"""Request hooks (correlation id, access log, profiles) and the health endpoints and page."""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

from soulspot.api import current_user, is_local_request, kernel, probe, public
from soulspot.config import secret_values
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
    target = app if app is not None else current_app
    return target.extensions[EXT]  # type: ignore[no-any-return]


def install(app: Flask, config: ObservabilityConfig) -> None:
    """Configure logging and register the request hooks (first of every plugin's)."""
    kstate = app.extensions["soulspot"]
    data_dir: Path = kstate.data_dir
    app.extensions[EXT] = ObsState(
        config=config,
        health=HealthRunner(app, config.health_cache_seconds),
        profiles_dir=data_dir / "profiles",
    )
    # The access-line writer belongs to the app being served; an app built after it (tests,
    # CLI commands in one process) writes its lines itself until it is served.
    logs.stop_access_writer()
    stream = _default_stream()
    logs.configure_logging(
        level=_level_for(kstate.settings.kernel.log_level, config.log_format, stream),
        log_format=config.log_format,
        stream=stream,
        log_file=(data_dir / "logs" / "soulspot.log") if config.log_file else None,
        max_bytes=config.log_file_max_mb * 1024 * 1024,
        backups=config.log_file_backups,
    )
    logs.add_secrets(_secrets(app))

    access = config.access_log
    slow_ms = config.profile_slow_ms
    if slow_ms:
        import pyinstrument  # noqa: F401  # import now, not during the first request

    # The hottest code of the app: runs for every request. Real objects instead of the
    # context-local proxies, no work that is not needed.
    def before() -> None:
        req = request._get_current_object()  # type: ignore[attr-defined]
        gg = g._get_current_object()
        incoming = req.environ.get("HTTP_X_REQUEST_ID")
        rid = incoming if incoming and _SAFE_ID.match(incoming) else new_request_id()
        gg.request_id = rid
        gg.obs_token = logs.bind_request(rid)
        if slow_ms:
            gg.obs_profiler = profiling.start()
        gg.obs_started = time.perf_counter()

    def after(response: Response) -> Response:
        gg = g._get_current_object()
        rid = getattr(gg, "request_id", None)
        if rid is None:
            from soulspot.api import request_id

            rid = request_id()
        response.headers[HEADER] = rid
        started = getattr(gg, "obs_started", None)
        elapsed_ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        if slow_ms:
            profiler = gg.__dict__.pop("obs_profiler", None)
            if profiler is not None:
                _finish_profile(profiler, elapsed_ms, rid)
        if access:
            req = request._get_current_object()  # type: ignore[attr-defined]
            user = getattr(gg, "soulspot_user", None)
            logs.access_line(
                rid,
                req.method,
                req.path,
                response.status_code,
                elapsed_ms,
                user.id if user is not None else None,
                req.remote_addr,
            )
        # Last of every after_request hook (registered first): the request's log context
        # ends here; lines from teardown hooks still get the id from flask.g.
        logs.unbind_request(getattr(gg, "obs_token", None))
        return response

    app.before_request(before)
    app.after_request(after)

    from .probe import LiveProbeFastPath

    # Liveness probes answered below Flask once their first answer is known (see probe.py).
    app.wsgi_app = LiveProbeFastPath(app.wsgi_app, access_log=access)  # type: ignore[method-assign]


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
    obs = state(app)
    kstate = app.extensions["soulspot"]
    config = obs.config
    logs.configure_logging(
        level=kstate.settings.kernel.log_level,
        log_format=config.log_format,
        stream="stdout",
        log_file=(kstate.data_dir / "logs" / "soulspot.log") if config.log_file else None,
        max_bytes=config.log_file_max_mb * 1024 * 1024,
        backups=config.log_file_backups,
    )
    # Serving: request threads hand their access line to a writer thread (no lock convoy).
    logs.start_access_writer()


def _secrets(app: Flask) -> set[str]:
    found = set(secret_values(app.extensions["soulspot"].settings))
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
            "uptime_seconds": round(time.time() - kernel().started_at, 1),
        }
    )
    resp.status_code = 200
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --- the Health page -----------------------------------------------------------------------


def _is_owner() -> bool:
    if kernel().auth is None:
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
