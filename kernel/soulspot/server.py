"""``soulspot serve``: waitress (one process, threads), the scheduler, clean SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from flask import Flask

from .config import ConfigError, trusted_hosts
from .context import is_loopback
from .scheduler import start_scheduler
from .state import KernelState

log = logging.getLogger("soulspot.server")


def serve(app: Flask, host: str, port: int, threads: int, *, scheduler: bool = True) -> None:
    """Serve ``app`` until SIGTERM or Ctrl-C, then shut down cleanly."""
    from waitress.server import create_server

    state: KernelState = app.extensions["soulspot"]
    if state.auth is None and not _is_loopback_host(host):
        raise ConfigError(
            f"refusing to serve on {host}: no sign-in plugin is enabled, so SoulSpot may only "
            "listen on loopback (127.0.0.1). Enable an auth plugin (the built-in one is "
            "Spotify sign-in) or use --host 127.0.0.1"
        )
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="soulspot",
        # With [kernel] trusted_proxies, X-Forwarded-* reach the app, where werkzeug's ProxyFix
        # (security plugin) trusts exactly that many hops; without, waitress drops them.
        clear_untrusted_proxy_headers=state.settings.kernel.trusted_proxies == 0,
    )
    # Record what was bound (--host/--port win over the file): plugins that build URLs to this
    # server from [kernel] host/port (the default sign-in redirect URI) then get them right.
    state.settings.kernel = state.settings.kernel.model_copy(
        update={"host": host, "port": server.effective_port}  # type: ignore[union-attr]
    )
    app.config["TRUSTED_HOSTS"] = trusted_hosts(state.settings.kernel)
    state.serving = True
    if scheduler:
        start_scheduler(app)
    state.hook.before_serve(app=app)

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    bound = f"http://{host}:{server.effective_port}"  # type: ignore[union-attr]
    print(f"SoulSpot listening on {bound}", flush=True)
    log.info("serving", extra={"url": bound, "threads": threads})
    try:
        server.run()
    finally:
        if state.scheduler is not None:
            state.scheduler.shutdown(wait=False)
        with app.app_context():
            state.hook.shutdown(app=app)
        log.info("stopped")
        sys.stdout.flush()


def _is_loopback_host(host: str) -> bool:
    return host == "localhost" or is_loopback(host)
