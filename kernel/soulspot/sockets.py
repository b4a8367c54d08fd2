"""Listening sockets handed over by a service manager (systemd's socket activation).

With ``soulspot.socket`` the service manager owns the listening socket: it stays open while
``soulspot serve`` restarts, so a connection that arrives in between waits in the socket's
backlog and is answered by the next process instead of being refused. The protocol is
systemd's (``sd_listen_fds(3)``): ``LISTEN_PID`` names the process the sockets are for,
``LISTEN_FDS`` how many there are, starting at file descriptor 3.
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping

from .exceptions import ConfigError

#: The first passed file descriptor (``SD_LISTEN_FDS_START``).
FIRST_FD = 3


def passed_sockets(environ: MutableMapping[str, str] | None = None) -> list[socket.socket]:
    """The listening sockets passed to this process, or ``[]`` when none were.

    The variables are removed from ``environ`` (as ``sd_listen_fds(1)`` does) so that
    processes this one starts do not take the sockets for theirs. A passed descriptor that is
    not a listening TCP or Unix stream socket is a configuration error: the socket unit is
    wrong, and serving on something else would hide it.
    """
    env = os.environ if environ is None else environ
    pid_text, count_text = env.pop("LISTEN_PID", None), env.pop("LISTEN_FDS", None)
    env.pop("LISTEN_FDNAMES", None)
    if pid_text is None or count_text is None:
        return []
    try:
        pid, count = int(pid_text), int(count_text)
    except ValueError:
        raise ConfigError(
            f"LISTEN_PID={pid_text!r} LISTEN_FDS={count_text!r}: expected two numbers "
            "(systemd socket activation)"
        ) from None
    if pid != os.getpid():  # meant for another process (an ancestor's leftover variables)
        return []
    if count < 1:
        return []
    found: list[socket.socket] = []
    for fd in range(FIRST_FD, FIRST_FD + count):
        try:
            sock = socket.socket(fileno=fd)
        except OSError as exc:
            raise ConfigError(
                f"LISTEN_FDS={count}: file descriptor {fd} is not a socket ({exc.strerror}); "
                "check the ListenStream= lines of soulspot.socket"
            ) from None
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        if sock.type != socket.SOCK_STREAM or not listening:
            sock.detach()
            raise ConfigError(
                f"LISTEN_FDS={count}: file descriptor {fd} is not a listening stream socket; "
                "soulspot.socket needs ListenStream= (not ListenDatagram=) and Accept=no"
            )
        sock.setblocking(False)
        found.append(sock)
    return found


def address_of(sock: socket.socket) -> tuple[str, int]:
    """``(host, port)`` a passed socket listens on (``("unix:<path>", 0)`` for Unix ones)."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name}", 0
    return str(name[0]), int(name[1])
