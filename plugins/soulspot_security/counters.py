"""In-process counters for the fixed-window strategy: a storage backend written against
``limits.storage.Storage``, the base class limits documents for custom backends.

limits' own ``memory://`` storage starts a timer thread to sweep expired counters on
nearly every hit once the last sweep has finished (a thread start every few requests
under load: in ``bench/overhead.py`` the largest single cost of a rate-limited request).
Here an expired counter is dropped when it is read, and the whole table is swept at most
once a second, on the calling thread, only when it has grown: same decisions, no threads.
Used for ``rate_limit_storage_uri = "memory://"`` with ``fixed-window``; other strategies
and storages are limits' own.
"""

from __future__ import annotations

import threading
import time

from limits.storage import Storage

#: Counters kept before a sweep of expired ones is worth its time.
SWEEP_ABOVE = 1024


class FixedWindowMemory(Storage):
    """Counters in a dict: ``key -> [count, expires_at]`` (``time.time()``)."""

    STORAGE_SCHEME = ["soulspot-fixed-window-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.counters: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self.next_sweep = 0.0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def incr(self, key: str, expiry: float, amount: int = 1, **_ignored: object) -> int:
        now = time.time()
        with self.lock:
            counter = self.counters.get(key)
            if counter is None or counter[1] <= now:
                counter = self.counters[key] = [0, now + expiry]
                if len(self.counters) > SWEEP_ABOVE and now >= self.next_sweep:
                    self.next_sweep = now + 1.0
                    self.counters = {k: v for k, v in self.counters.items() if v[1] > now}
                    self.counters[key] = counter
            counter[0] += amount
            return int(counter[0])

    def get(self, key: str) -> int:
        counter = self.counters.get(key)
        if counter is None or counter[1] <= time.time():
            return 0
        return int(counter[0])

    def get_expiry(self, key: str) -> float:
        counter = self.counters.get(key)
        return counter[1] if counter is not None else time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self.lock:
            count = len(self.counters)
            self.counters = {}
        return count

    def clear(self, key: str) -> None:
        with self.lock:
            self.counters.pop(key, None)
