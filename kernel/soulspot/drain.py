"""Graceful drain: on SIGTERM, stop accepting, finish what is in flight, then exit.

A restart (or an upgrade) must not cut a request in half. The first SIGTERM makes
``soulspot serve`` stop taking new connections — with socket activation the listening socket
stays open in the service manager, so new connections wait in its backlog for the next
process — while requests already running finish and their answers are flushed. The process
exits when nothing is left in flight or when ``[kernel] drain_seconds`` have passed, whichever
comes first (systemd's ``TimeoutStopSec`` must be longer). A second SIGTERM exits at once
(the drain sends itself one when it is done).

Only waitress's public surface is used: ``create_server(map=...)`` fills a map we own, the
listening servers are ``waitress.server.BaseWSGIServer`` dispatchers that leave the loop with
the asyncore ``del_channel()``, and ``writable()`` (asyncore's own question "has this channel
output to send?") tells whether answers are still being flushed. Requests are counted by a
WSGI wrapper, so "in flight" means "the app is working on it".
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

log = logging.getLogger("soulspot.server")

#: How long nothing may be in flight or left to flush before the drain counts as done: a
#: request taken off the queue by a worker thread starts within this window.
QUIET_SECONDS = 0.2


class InFlight:
    """A WSGI wrapper that counts requests the app is working on (until the body is closed)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self.lock:
            self.count += 1
        try:
            body = self.app(environ, start_response)
        except BaseException:
            self._done()
            raise
        return _Counted(body, self._done)

    def _done(self) -> None:
        with self.lock:
            self.count -= 1

    def busy(self) -> int:
        with self.lock:
            return self.count


class _Counted:
    """The app's response body; closing it (waitress does, after the last chunk) ends the
    request for :class:`InFlight`."""

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self.body = body
        self.done: Callable[[], None] | None = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            done, self.done = self.done, None
            if done is not None:
                done()


class Drain:
    """Stops accepting on the first :meth:`begin`, then ends the serving loop once idle."""

    def __init__(
        self,
        in_flight: InFlight,
        server_map: MutableMapping[int, Any],
        seconds: float,
        *,
        keep_sockets_open: bool,
    ) -> None:
        self.in_flight = in_flight
        self.server_map = server_map
        self.seconds = seconds
        self.keep_sockets_open = keep_sockets_open
        self.started: float | None = None

    def begin(self) -> None:
        """Called on the serving (main) thread, from the SIGTERM handler."""
        from waitress.server import BaseWSGIServer

        self.started = time.monotonic()
        for dispatcher in list(self.server_map.values()):
            if isinstance(dispatcher, BaseWSGIServer):
                dispatcher.del_channel()
                if not self.keep_sockets_open and dispatcher.socket is not None:
                    # Our own socket: refuse new connections now rather than let them sit in
                    # a backlog nobody will accept from. Shut down, not closed: the loop's
                    # select() may be waiting on this descriptor right now.
                    with contextlib.suppress(OSError):
                        dispatcher.socket.shutdown(socket.SHUT_RDWR)
        log.info(
            "draining",
            extra={"in_flight": self.in_flight.busy(), "drain_seconds": self.seconds},
        )
        threading.Thread(target=self._wait_then_stop, name="soulspot-drain", daemon=True).start()

    def _flushing(self) -> bool:
        try:
            channels = list(self.server_map.values())
        except RuntimeError:  # the loop changed the map while we copied it: look again
            return True
        return any(ch.writable() for ch in channels if _is_connection(ch))

    def _wait_then_stop(self) -> None:
        started = self.started
        if started is None:  # begin() sets it before this thread starts
            raise RuntimeError("the drain was not started")
        deadline = started + self.seconds
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            now = time.monotonic()
            if self.in_flight.busy() or self._flushing():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= QUIET_SECONDS:
                break
            time.sleep(0.02)
        left = self.in_flight.busy()
        if left:
            log.warning("drain timed out", extra={"in_flight": left, "drain_seconds": self.seconds})
        else:
            log.info("drained", extra={"seconds": round(time.monotonic() - started, 3)})
        # The second SIGTERM ends waitress's loop on the main thread (the handler raises
        # SystemExit, which waitress's run() catches to shut its worker threads down). Not
        # SIGINT: a service started in the background may have it ignored.
        os.kill(os.getpid(), signal.SIGTERM)


def _is_connection(dispatcher: Any) -> bool:
    from waitress.channel import HTTPChannel

    return isinstance(dispatcher, HTTPChannel)
