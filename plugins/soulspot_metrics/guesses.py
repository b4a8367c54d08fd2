"""Wrong scrape tokens, counted per client: ``/metrics`` is exempt from the rate limits (a
Prometheus scrapes it every few seconds), so without this a client on the LAN could try
tokens as fast as it can send requests. After ``MAX_WRONG`` wrong or missing tokens from one
address in ``WINDOW`` seconds, that address gets 429 until the window ends; a scrape with the
right token is never refused, and loopback needs no token at all."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

#: Wrong tokens one address may send per window before it is refused.
MAX_WRONG = 10
#: Seconds of the window.
WINDOW = 60.0
#: Addresses remembered at once (the oldest are forgotten first).
MAX_CLIENTS = 4096


class WrongTokens:
    """Per-address counts of wrong scrape tokens in fixed windows."""

    def __init__(self) -> None:
        self._clock = time.monotonic
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def refused_for(self, client: str) -> float | None:
        """Seconds left in ``client``'s window when it has used up its wrong tokens."""
        with self._lock:
            entry = self._seen.get(client)
            if entry is None:
                return None
            started, count = entry
            left = started + WINDOW - self._clock()
            if left <= 0:
                del self._seen[client]
                return None
            return left if count >= MAX_WRONG else None

    def wrong(self, client: str) -> None:
        """Count one wrong or missing token from ``client``."""
        now = self._clock()
        with self._lock:
            started, count = self._seen.pop(client, (now, 0))
            if now - started >= WINDOW:
                started, count = now, 0
            self._seen[client] = (started, count + 1)
            while len(self._seen) > MAX_CLIENTS:
                self._seen.popitem(last=False)
