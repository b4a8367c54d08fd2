"""Requests being answered right now, so maintenance can wait until none is left.

Maintenance (a restore) refuses new requests with 503; a request that passed that gate just
before may still be writing. A restore that went on then would take its pre-restore backup
without that write and swap the database under it: the write is acknowledged and lost. So
:func:`wait_idle` waits until every request that got past the gate has ended.

The count and the maintenance check are one step under one lock: a request is either counted
before maintenance begins (and waited for) or sees maintenance and is refused. That holds in
whatever order the request phases run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import Flask, Response, g

from .errors import problem_response
from .state import KernelState
from .types import STAGE_GUARD, RequestPhase

EXTENSION = "soulspot.inflight"

#: Between measure and guard (see :func:`inflight_phase`).
STAGE_INFLIGHT = STAGE_GUARD - 50


class StillBusy(RuntimeError):
    """Requests did not finish within the time maintenance waits for them."""


@dataclass
class _Tracker:
    count: int = 0
    idle: threading.Condition = field(default_factory=threading.Condition)


def _tracker(app: Flask) -> _Tracker:
    tracker = app.extensions.get(EXTENSION)
    if tracker is None:
        tracker = app.extensions[EXTENSION] = _Tracker()
    return tracker


def maintenance_response(reason: str) -> Response:
    return problem_response(
        503,
        "Maintenance",
        f"SoulSpot is busy: {reason}. Try again in a minute.",
        headers={"Retry-After": "30"},
    )


def inflight_phase(app: Flask, state: KernelState) -> RequestPhase:
    """The kernel's phase that refuses requests in maintenance and counts the others until
    their teardown. It runs after identify and measure (so a 503 is logged and counted like
    any answer) and before every guard (whose refusals may write audit events)."""
    tracker = _tracker(app)

    def enter() -> Response | None:
        with tracker.idle:
            reason = state.maintenance_reason
            if reason is None:
                tracker.count += 1
                g.soulspot_counted = True
                return None
        return maintenance_response(reason)

    def leave(_exc: BaseException | None) -> None:
        if g.pop("soulspot_counted", False):
            with tracker.idle:
                tracker.count -= 1
                tracker.idle.notify_all()

    # liveness probes are answered in maintenance and write nothing: not counted
    return RequestPhase(
        "kernel.inflight", STAGE_INFLIGHT, before=enter, teardown=leave, probes=False
    )


def wait_idle(app: Flask, timeout: float) -> None:
    """Wait until no request but the caller's own is being answered (call it with the
    maintenance reason set). Raises :class:`StillBusy` after ``timeout`` seconds."""
    tracker = _tracker(app)
    own = 1 if g.get("soulspot_counted", False) else 0
    deadline = time.monotonic() + timeout
    with tracker.idle:
        while tracker.count > own:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StillBusy(
                    f"{tracker.count - own} request(s) still running after {timeout:.0f} s"
                )
            tracker.idle.wait(left)
