"""The in-process fixed-window counters: the same decisions as limits' own memory storage,
windows that end, and no thread started per hit."""

from __future__ import annotations

import threading
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from soulspot_security.counters import FixedWindowMemory


def test_same_decisions_as_limits_memory_storage_without_starting_threads() -> None:
    ours = FixedWindowRateLimiter(FixedWindowMemory())
    theirs = FixedWindowRateLimiter(MemoryStorage())
    item = parse("5/minute")
    before = threading.active_count()
    decisions = [ours.hit(item, "a", "api") for _ in range(8)]
    assert threading.active_count() == before
    assert decisions == [theirs.hit(item, "a", "api") for _ in range(8)] == [True] * 5 + [False] * 3
    assert ours.hit(item, "b", "api")  # another client has its own counter
    stats = ours.get_window_stats(item, "a", "api")
    assert stats.remaining == 0 and time.time() < stats.reset_time <= time.time() + 61


def test_a_window_ends() -> None:
    strategy = FixedWindowRateLimiter(FixedWindowMemory())
    item = parse("1/second")
    assert strategy.hit(item, "a")
    assert not strategy.hit(item, "a")
    deadline = time.monotonic() + 5
    while not strategy.test(item, "a"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert strategy.hit(item, "a")
