"""Sending through Apprise, off the thread that noticed the event.

An event is noticed where it happens (a request, a job, a CLI command); sending may take
seconds (SMTP, a slow webhook), so a daemon thread does it from a bounded queue. A queue
that is full drops the message and logs it: a notification storm must never hold a request.
``drain()`` waits for what is queued: the shutdown hook calls it, and so does the end of a
CLI command (click's ``call_on_close`` of the command's context; an ``atexit`` drain would
be too late: Apprise imports modules as it sends, which Python refuses once it is ending),
so what a command raised (``soulspot deploy record rolled_back``) goes out before it exits.
Every service gets ``timeout_seconds`` to connect and to answer (Apprise's ``cto``/``rto``
URL parameters).

Nothing of a service's URL reaches the log or a trace: Apprise's own messages name the
service's topic, channel or token, so they are replaced by a fixed line; and every send runs
on a thread of this module, which no request or command traces.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("soulspot.notify")

#: How long the end of a CLI command waits for queued notifications.
DRAIN_AT_EXIT = 10.0


class WithoutServiceDetails(logging.Filter):
    """Apprise's log lines name what they failed to reach ("... to topic 'my-topic'": on
    ntfy.sh the topic is the credential; Telegram's bot token is in its URL): keep the
    severity, drop the words. Our own lines say which event was or was not delivered."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = "a notification service reported a problem (details withheld: they name it)"
        record.args = None
        record.exc_info = None
        record.exc_text = None
        return True


_apprise_log = logging.getLogger("apprise")
#: Apprise logs the URLs it sends to (tokens in them) at DEBUG: keep it above that.
_apprise_log.setLevel(logging.WARNING)
if not any(isinstance(f, WithoutServiceDetails) for f in _apprise_log.filters):
    _apprise_log.addFilter(WithoutServiceDetails())


def with_timeouts(url: str, seconds: float) -> str:
    """``url`` with Apprise's connect and read timeouts (``cto``/``rto``) unless it sets
    them itself."""
    if "cto=" in url or "rto=" in url:
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}cto={seconds:g}&rto={seconds:g}"


@dataclass(frozen=True)
class Message:
    event: str
    title: str
    body: str
    failure: bool = True


@dataclass(frozen=True)
class Delivery:
    event: str
    ok: bool
    services: int


class Sender:
    def __init__(self, urls: Sequence[str], timeout: float, max_pending: int = 100) -> None:
        self.urls = list(urls)
        self.timeout = timeout
        self.pending: queue.Queue[Message] = queue.Queue(maxsize=max_pending)
        self.idle = threading.Condition()
        #: Submitted and not yet sent (or failed): what ``drain`` waits for.
        self.outstanding = 0
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        #: The CLI commands (their root click contexts) whose end waits for the queue.
        self.commands: weakref.WeakSet[Any] = weakref.WeakSet()

    def send_now(self, message: Message) -> Delivery:
        """Send at once and wait for the answer (the test button, ``soulspot notify test``),
        on a thread of its own: bounded by the services' timeouts, and never inside the
        caller's request or command, whose traces would record the services' URLs."""
        result: list[Delivery] = []

        def deliver() -> None:
            try:
                result.append(self._deliver(message))
            except Exception:  # a broken service plugin of Apprise: a failed send, said so
                log.exception("notification failed", extra={"notify_event": message.event})
                result.append(Delivery(message.event, False, len(self.urls)))

        worker = threading.Thread(target=deliver, name="soulspot-notify-now", daemon=True)
        worker.start()
        # each service may take its connect and read timeouts; a little more for Apprise
        worker.join(timeout=2 * self.timeout * max(1, len(self.urls)) + 5.0)
        if not result:
            log.warning(
                "notification still sending after its timeouts",
                extra={"notify_event": message.event, "services": len(self.urls)},
            )
            return Delivery(message.event, False, len(self.urls))
        return result[0]

    def _deliver(self, message: Message) -> Delivery:
        """Send on this thread; returns whether every service accepted it."""
        import apprise

        # one service after the other on this thread, no thread pool of Apprise's: each
        # service's own timeouts bound the send, and nothing of it outlives this thread
        notifier = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
        for url in self.urls:
            notifier.add(with_timeouts(url, self.timeout))
        started = time.monotonic()
        notify_type = apprise.NotifyType.FAILURE if message.failure else apprise.NotifyType.INFO
        ok = bool(notifier.notify(body=message.body, title=message.title, notify_type=notify_type))
        log.log(
            logging.INFO if ok else logging.WARNING,
            "notification sent" if ok else "notification not accepted by every service",
            extra={
                "notify_event": message.event,
                "services": len(self.urls),
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return Delivery(message.event, ok, len(self.urls))

    def submit(self, message: Message) -> bool:
        if not self.urls:
            return False
        self._start()
        with self.idle:
            try:
                self.pending.put_nowait(message)
            except queue.Full:
                log.warning(
                    "notification dropped: too many waiting", extra={"notify_event": message.event}
                )
                return False
            self.outstanding += 1
        return True

    def _drain_when_the_command_ends(self) -> None:
        import click

        context = click.get_current_context(silent=True)
        if context is None:
            return  # serving: the shutdown hook drains
        root = context.find_root()
        with self.lock:
            if root in self.commands:
                return
            self.commands.add(root)
        root.call_on_close(lambda: self.drain(DRAIN_AT_EXIT))

    def _start(self) -> None:
        self._drain_when_the_command_ends()
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, name="soulspot-notify", daemon=True
                )
                self.thread.start()

    def _run(self) -> None:
        while True:
            message = self.pending.get()
            try:
                self._deliver(message)
            except Exception:  # a broken service plugin of Apprise must not end the thread
                log.exception("notification failed", extra={"notify_event": message.event})
            finally:
                with self.idle:
                    self.outstanding -= 1
                    self.idle.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until everything queued was sent (or failed); ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self.idle:
            while self.outstanding:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.idle.wait(min(left, 0.05))
        return True
