"""``create_app()``: build the Flask app from config and plugins (one plugin manager per app)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pluggy
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from . import errors, inflight, pages, web
from .api import span
from .config import (
    Settings,
    ensure_data_dir,
    ensure_secret_key,
    load_settings,
    trusted_hosts,
    validate_plugin_config,
)
from .db import database
from .plugins import PluginError, PluginInfo, load_plugins, resolve_config_model
from .state import KernelState


def create_app(
    test_config: Mapping[str, Any] | None = None,
    *,
    config_path: str | os.PathLike[str] | None = None,
    plugins: Iterable[tuple[str, object]] = (),
    env: Mapping[str, str] | None = None,
) -> Flask:
    """Build a SoulSpot app.

    ``test_config`` overrides config values (``{"kernel": {"data_dir": ...}}``); ``plugins``
    registers extra ``(name, module)`` plugins as if installed. Raises
    :class:`soulspot.config.ConfigError` (or its subclass ``PluginError``) with a message for
    the person who configured it.
    """
    settings, pm, infos = load_configuration(
        test_config, config_path=config_path, plugins=plugins, env=env
    )
    data_dir = ensure_data_dir(settings.kernel)

    app = SoulSpotFlask("soulspot", root_path=str(Path(__file__).parent))
    app.config.update(
        SECRET_KEY=ensure_secret_key(settings.kernel, data_dir),
        SOULSPOT_PUBLIC_URL=settings.kernel.public_url,
        TRUSTED_HOSTS=trusted_hosts(settings.kernel),
        JSON_SORT_KEYS=False,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.session_interface = CachedSessionInterface()
    state = KernelState(pm=pm, settings=settings, plugins=infos, data_dir=data_dir)
    app.extensions["soulspot"] = state
    errors.install(app)
    if settings.kernel.compress:
        _install_compression(app)

    inflight.install(app)  # before plugins' request hooks: maintenance waits for requests

    hook = pm.hook
    hook.init_app(app=app)
    web.install(app)
    app.register_blueprint(web.bp)
    app.register_blueprint(pages.bp)
    for blueprints in hook.register_blueprints(app=app):
        for blueprint in blueprints or ():
            app.register_blueprint(blueprint)

    state.storage = hook.storage(app=app)
    if state.storage is None:
        database.initialize(None)
    state.auth = hook.auth_provider(app=app)
    for concern, provided in (("storage", state.storage), ("auth", state.auth)):
        for info in infos:
            if info.enabled and concern in info.provides and provided is None:
                raise PluginError(
                    f"plugin error: plugin {info.name!r} provides {concern!r} but its "
                    f"{'storage' if concern == 'storage' else 'auth_provider'} hook "
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
) -> tuple[Settings, pluggy.PluginManager, list[PluginInfo]]:
    """Read config, load plugins and validate every section, without building an app
    (``soulspot config check`` and ``soulspot plugins`` need no database)."""
    env = os.environ if env is None else env
    settings = load_settings(config_path, env=env, overrides=test_config)
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


class SoulSpotFlask(Flask):
    """Flask, with the sync-or-async check of each request hook and view made once per
    function instead of on every call (Flask runs ``inspect.iscoroutinefunction`` on each of
    the ~18 request hooks the plugins register, for every request)."""

    _SYNC_CACHE_MAX = 4096

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_cache: dict[Any, Any] = {}

    def ensure_sync(self, func: Any) -> Any:
        cache = self._sync_cache
        try:
            return cache[func]
        except KeyError:
            pass
        except TypeError:  # an unhashable callable: not cached
            return super().ensure_sync(func)
        result = super().ensure_sync(func)
        if len(cache) < self._SYNC_CACHE_MAX:
            cache[func] = result
        return result


class CachedSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with the signing serializer built once per key set
    instead of on every request (Flask builds it even for requests without a session cookie;
    it was the largest share of opening a session). A changed ``SECRET_KEY`` or
    ``SECRET_KEY_FALLBACKS`` builds a new one."""

    def __init__(self) -> None:
        self._cached: tuple[tuple[Any, ...], Any] | None = None

    def get_signing_serializer(self, app: Flask) -> Any:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._cached
        if cached is not None and cached[0] == key:
            return cached[1]
        serializer = super().get_signing_serializer(app)
        self._cached = (key, serializer)
        return serializer


def _close_registration(pm: Any) -> None:
    def closed(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("plugin registration is closed once the app has started")

    pm.register = closed
