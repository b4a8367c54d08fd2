"""Sending through Apprise, off the thread that noticed the event.

An event is noticed where it happens (a request, a job, a CLI command); sending may take
seconds (SMTP, a slow webhook), so a daemon thread does it from a bounded queue. A queue
that is full drops the message and logs it: a notification storm must never hold a request.
``drain()`` waits for what is queued (CLI commands and shutdown call it, bounded).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger("soulspot.notify")

#: Apprise logs the URLs it sends to (tokens in them) at DEBUG: keep it above that.
logging.getLogger("apprise").setLevel(logging.WARNING)


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

    def send_now(self, message: Message) -> Delivery:
        """Send on this thread; returns whether every service accepted it."""
        import apprise

        notifier = apprise.Apprise()
        for url in self.urls:
            notifier.add(url)
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

    def _start(self) -> None:
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
                self.send_now(message)
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
