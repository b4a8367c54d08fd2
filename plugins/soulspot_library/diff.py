"""What changed between two versions of a list of entries: added, removed, moved.

Positions matter (a playlist may hold the same track twice), so the two versions are aligned
as sequences (``difflib``); a track that left one place and arrived at another is a move.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ItemChange:
    kind: str  # added | removed | moved
    track_id: str | None
    position: int | None  # in the new version (added, moved)
    old_position: int | None  # in the old version (removed, moved)


def diff_sequence(old: Sequence[str | None], new: Sequence[str | None]) -> list[ItemChange]:
    """Changes turning ``old`` into ``new`` (each a list of track ids, ``None`` for an
    unavailable entry), by position."""
    matcher = difflib.SequenceMatcher(None, list(old), list(new), autojunk=False)
    removed: list[tuple[int, str | None]] = []
    added: list[tuple[int, str | None]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            removed.extend((i, old[i]) for i in range(i1, i2))
        if tag in ("insert", "replace"):
            added.extend((j, new[j]) for j in range(j1, j2))
    changes: list[ItemChange] = []
    waiting: dict[str | None, list[int]] = {}
    for position, track in removed:
        waiting.setdefault(track, []).append(position)
    moved_from: dict[int, int] = {}
    for position, track in added:
        olds = waiting.get(track)
        if track is not None and olds:
            moved_from[position] = olds.pop(0)
    used = set(moved_from.values())
    for position, track in removed:
        if position not in used:
            changes.append(ItemChange("removed", track, None, position))
    for position, track in added:
        if position in moved_from:
            changes.append(ItemChange("moved", track, position, moved_from[position]))
        else:
            changes.append(ItemChange("added", track, position, None))
    return changes


def diff_sets(old: set[str], new: set[str]) -> tuple[list[str], list[str]]:
    """``(added, removed)`` ids, sorted."""
    return sorted(new - old), sorted(old - new)
