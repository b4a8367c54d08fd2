"""``create_app()``: build the Flask app from config and plugins (one plugin manager per app)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pluggy
from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from . import errors, inflight, pages, pipeline, web
from .api import read_only_command, span
from .config import (
    Settings,
    ensure_data_dir,
    ensure_secret_key,
    load_settings,
    require_data_dir,
    trusted_hosts,
    validate_plugin_config,
)
from .db import database
from .gate import gate_phase
from .plugins import PluginError, PluginInfo, load_plugins, resolve_config_model
from .state import KernelState
from .types import CONCERN_AUTH, CONCERN_STORAGE


def create_app(
    test_config: Mapping[str, Any] | None = None,
    *,
    config_path: str | os.PathLike[str] | None = None,
    plugins: Iterable[tuple[str, object]] = (),
    env: Mapping[str, str] | None = None,
    command_line: Mapping[str, Any] | None = None,
) -> Flask:
    """Build a SoulSpot app.

    ``test_config`` overrides config values (``{"kernel": {"data_dir": ...}}``); ``plugins``
    registers extra ``(name, module)`` plugins as if installed. Raises
    :class:`soulspot.config.ConfigError` (or its subclass ``PluginError``) with a message for
    the person who configured it.
    """
    settings, pm, infos = load_configuration(
        test_config, config_path=config_path, plugins=plugins, env=env, command_line=command_line
    )
    read_only = read_only_command()
    if read_only:
        require_data_dir(settings)
    data_dir = ensure_data_dir(settings.kernel)

    app = Flask("soulspot", root_path=str(Path(__file__).parent))
    app.config.update(
        SECRET_KEY=ensure_secret_key(settings.kernel, data_dir, create=not read_only),
        SOULSPOT_PUBLIC_URL=settings.kernel.public_url,
        TRUSTED_HOSTS=trusted_hosts(settings.kernel),
        JSON_SORT_KEYS=False,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.session_interface = SessionInterface()
    state = KernelState(pm=pm, settings=settings, plugins=infos, data_dir=data_dir)
    app.extensions["soulspot"] = state
    errors.install(app)
    if settings.kernel.compress:
        _install_compression(app)

    hook = pm.hook
    hook.init_app(app=app)
    web.install(app)
    phases = [inflight.inflight_phase(app, state), gate_phase(app, state)]
    for group in hook.request_phases(app=app):
        phases.extend(group or ())
    state.phases = pipeline.install(app, phases)
    middleware = [m for group in hook.wsgi_middleware(app=app) for m in (group or ())]
    state.middleware = pipeline.wrap(app, middleware)
    app.register_blueprint(web.bp)
    app.register_blueprint(pages.bp)
    for blueprints in hook.register_blueprints(app=app):
        for blueprint in blueprints or ():
            app.register_blueprint(blueprint)

    state.storage = hook.storage(app=app)
    if state.storage is None:
        database.initialize(None)
    state.auth = hook.auth_provider(app=app)
    for concern, provided in ((CONCERN_STORAGE, state.storage), (CONCERN_AUTH, state.auth)):
        for info in infos:
            if info.enabled and concern in info.provides and provided is None:
                raise PluginError(
                    f"plugin error: plugin {info.name!r} provides {concern!r} but its "
                    f"{'storage' if concern == CONCERN_STORAGE else 'auth_provider'} hook "
                    "returned nothing"
                )

    with app.app_context(), span("soulspot startup"):
        hook.startup(app=app)
    _close_registration(pm)
    return app


def load_configuration(
    test_config: Mapping[str, Any] | None = None,
    *,
    config_path: str | os.PathLike[str] | None = None,
    plugins: Iterable[tuple[str, object]] = (),
    env: Mapping[str, str] | None = None,
    command_line: Mapping[str, Any] | None = None,
) -> tuple[Settings, pluggy.PluginManager, list[PluginInfo]]:
    """Read config, load plugins and validate every section, without building an app
    (``soulspot config check`` and ``soulspot plugins`` need no database)."""
    env = os.environ if env is None else env
    settings = load_settings(config_path, env=env, overrides=test_config, command_line=command_line)
    pm, infos = load_plugins(
        settings, plugins, trace=env.get("SOULSPOT_TRACE_PLUGINS", "") not in ("", "0")
    )
    for info in infos:
        if info.enabled:
            validate_plugin_config(settings, info.name, resolve_config_model(info))
    return settings, pm, infos


#: Text types worth compressing; binary downloads (backups, images) are left alone.
COMPRESS_MIMETYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/csv",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/problem+json",
    "application/x-ndjson",
    "image/svg+xml",
]


def _install_compression(app: Flask) -> None:
    """flask-compress, registered before any plugin's ``after_request`` so that it runs last
    (Flask runs them in reverse order): headers and sizes are set on the uncompressed body."""
    from flask_compress import Compress

    app.config.update(
        COMPRESS_MIMETYPES=COMPRESS_MIMETYPES,
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_ALGORITHM_STREAMING=["br"],
        COMPRESS_BR_LEVEL=4,
        COMPRESS_LEVEL=6,
        COMPRESS_MIN_SIZE=500,
    )
    Compress(app)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session; a request without the session cookie gets an empty
    session without building the signing serializer (Flask builds it on every request, the
    largest share of opening a session). ``open_session`` is Flask's documented override
    point; signing and verifying are unchanged."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def _close_registration(pm: Any) -> None:
    def closed(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("plugin registration is closed once the app has started")

    pm.register = closed
