"""``soulspot serve``: waitress (one process, threads), the scheduler, clean SIGTERM.

With socket activation (``soulspot.socket``) it serves on the sockets the service manager
passes (:mod:`soulspot.sockets`); SIGTERM drains in-flight requests first (:mod:`soulspot.drain`).
One server per data directory (:mod:`soulspot.datadir`): a second one is refused, naming the
first.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from types import FrameType
from typing import Any

from flask import Flask

from .config import ConfigError, KernelConfig, trusted_hosts
from .console import announce
from .context import is_loopback
from .datadir import acquire, relabel
from .scheduler import start_scheduler
from .sockets import address_of, passed_sockets
from .state import KernelState

log = logging.getLogger("soulspot.server")


def serve(app: Flask, host: str, port: int, threads: int, *, scheduler: bool = True) -> None:
    """Serve ``app`` until SIGTERM or Ctrl-C, then shut down cleanly.

    Sockets passed by a service manager win over ``host``/``port``: the socket unit decides
    where SoulSpot listens."""
    from waitress.server import create_server

    from .drain import Drain, InFlight

    state: KernelState = app.extensions["soulspot"]
    sockets = listen_sockets()
    if sockets:
        host, port = address_of(sockets[0])
    if state.auth is None and not all(_is_loopback_host(h) for h in _hosts(sockets, host)):
        raise ConfigError(
            f"refusing to serve on {host}: no sign-in plugin is enabled, so SoulSpot may only "
            "listen on loopback (127.0.0.1). Enable an auth plugin (the built-in one is "
            "Spotify sign-in) or use --host 127.0.0.1"
        )
    # one server per data directory: a second one would double the scheduler's backups and
    # swap files under the first; refused before binding, naming the one that runs
    claim = acquire(state.data_dir, f"soulspot serve on http://{host}:{port}")
    in_flight = InFlight(app)
    server_map: dict[int, Any] = {}
    where: dict[str, Any] = {"sockets": sockets} if sockets else {"host": host, "port": port}
    try:
        server = create_server(
            in_flight,
            map=server_map,
            threads=threads,
            **where,
            ident="soulspot",
            # X-Forwarded-* always reach the app: with [kernel] trusted_proxies, werkzeug's
            # ProxyFix (security plugin) trusts exactly that many hops; without, nothing reads
            # them, but is_local_request() sees that a proxy forwarded the request (waitress
            # would drop them, and with them the only sign that 127.0.0.1 is a proxy).
            clear_untrusted_proxy_headers=False,
        )
    except BaseException:
        os.close(claim)
        raise
    if not sockets:
        port = int(server.effective_port)  # type: ignore[union-attr]  # waitress: a string
    bound = f"http://{host}:{port}"
    relabel(claim, f"soulspot serve on {bound}")
    # Record what was bound (--host/--port win over the file): plugins that build URLs to this
    # server from [kernel] host/port (the default sign-in redirect URI) then get them right.
    state.settings.kernel = state.settings.kernel.model_copy(update={"host": host, "port": port})
    app.config["TRUSTED_HOSTS"] = trusted_hosts(state.settings.kernel)
    state.serving = True
    warn_about_proxies(state.settings.kernel)
    if scheduler:
        start_scheduler(app)
    state.hook.before_serve(app=app)

    drain = Drain(
        in_flight,
        server_map,
        state.settings.kernel.drain_seconds,
        keep_sockets_open=bool(sockets),
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        if drain.started is not None or drain.seconds <= 0:
            raise SystemExit(0)
        drain.begin()

    signal.signal(signal.SIGTERM, stop)
    announce(f"SoulSpot listening on {bound}")  # stderr: stdout is for JSON log lines
    log.info("serving", extra={"url": bound, "threads": threads, "passed_sockets": len(sockets)})
    try:
        server.run()
    finally:
        if state.scheduler is not None:
            state.scheduler.shutdown(wait=False)
        with app.app_context():
            state.hook.shutdown(app=app)
        os.close(claim)
        log.info("stopped")
        sys.stdout.flush()


def proxy_warning(kernel: KernelConfig) -> str | None:
    """The start-up warning for a public URL without trusted proxies, or ``None``."""
    if kernel.public_url and kernel.trusted_proxies == 0:
        return (
            f"[kernel] public_url is {kernel.public_url} but trusted_proxies is 0: behind a "
            "reverse proxy, set trusted_proxies to the number of proxies in front of "
            "SoulSpot, or client addresses, https detection and rate limits see only the "
            "proxy (forwarded requests are never treated as coming from this machine)"
        )
    return None


def warn_about_proxies(kernel: KernelConfig) -> None:
    warning = proxy_warning(kernel)
    if warning:
        log.warning(warning)
        announce(f"warning: {warning}")


def listen_sockets() -> list[socket.socket]:
    """The listening sockets a service manager passed (``soulspot.socket``), or ``[]``."""
    return passed_sockets()


def _hosts(sockets: list[socket.socket], host: str) -> list[str]:
    return [address_of(s)[0] for s in sockets] if sockets else [host]


def _is_loopback_host(host: str) -> bool:
    if host.startswith("unix:"):  # a Unix socket is reachable from this machine only
        return True
    return host == "localhost" or is_loopback(host)
