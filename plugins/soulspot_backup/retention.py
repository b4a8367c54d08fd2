"""Which backups retention keeps: the newest N plus one per day, ISO week and month.

Only ``scheduled`` and ``pre-migration`` backups are ever pruned; ``manual`` and
``pre-restore`` ones stay until the owner deletes them by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

PRUNABLE = frozenset({"scheduled", "pre-migration"})


@dataclass(frozen=True)
class Policy:
    keep_last: int = 7
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6


@dataclass(frozen=True)
class Candidate:
    id: str
    created_at: dt.datetime
    trigger: str
    #: ``False`` when the last verification failed (never chosen to fill a bucket).
    sound: bool = True
    #: ``True`` only when a verification passed (``None``/never verified is not enough).
    verified: bool = False


def to_prune(backups: Sequence[Candidate], policy: Policy) -> list[str]:
    """Ids of the backups retention removes (oldest first)."""
    prunable = sorted(
        (b for b in backups if b.trigger in PRUNABLE),
        key=lambda b: b.created_at,
        reverse=True,
    )
    keep: set[str] = {b.id for b in prunable[: policy.keep_last]}
    buckets: list[tuple[int, Callable[[dt.datetime], Hashable]]] = [
        (policy.keep_daily, lambda t: t.date()),
        (policy.keep_weekly, lambda t: t.isocalendar()[:2]),
        (policy.keep_monthly, lambda t: (t.year, t.month)),
    ]
    sound = [b for b in prunable if b.sound]
    for count, key in buckets:
        seen: set[Hashable] = set()
        for backup in sound:
            if len(seen) >= count:
                break
            bucket = key(backup.created_at.astimezone(dt.UTC))
            if bucket in seen:
                continue
            seen.add(bucket)
            keep.add(backup.id)
    # never prune the newest backup that passed verification, whatever the policy says: newer
    # archives nobody has verified yet must not push the last known-good one out
    verified = [b for b in prunable if b.verified]
    if verified:
        keep.add(verified[0].id)
    return [b.id for b in reversed(prunable) if b.id not in keep]
