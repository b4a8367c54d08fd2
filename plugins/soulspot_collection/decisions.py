"""The owner's decisions: accept or choose a file, reject one, or "not wanted".

Decisions are appended, never rewritten by a scan or a sync; what holds for a track is the
fold of its decisions in order. Clearing them is the owner's act too (and audited).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from soulspot import api

from .models import Decision, LocalFile, rows

Kind = Literal["accept", "choose", "reject", "not_wanted"]
KINDS: tuple[Kind, ...] = ("accept", "choose", "reject", "not_wanted")


class DecisionError(ValueError):
    """A decision that cannot be taken as asked (no file given, file not present)."""


class UnknownTarget(DecisionError):
    """The track or file the decision names does not exist."""


@dataclass
class TrackDecisions:
    pinned: int | None = None
    rejected: set[int] = field(default_factory=set)
    not_wanted: bool = False


def fold(kinds_and_files: Iterable[tuple[str, int | None]]) -> TrackDecisions:
    state = TrackDecisions()
    for kind, file_id in kinds_and_files:
        if kind in ("accept", "choose") and file_id is not None:
            state.pinned = file_id
            state.rejected.discard(file_id)
            state.not_wanted = False
        elif kind == "reject" and file_id is not None:
            state.rejected.add(file_id)
            if state.pinned == file_id:
                state.pinned = None
        elif kind == "not_wanted":
            state.not_wanted = True
    return state


def load(track_ids: Iterable[str] | None = None) -> dict[str, TrackDecisions]:
    """Decisions per track (of ``track_ids``, or every track with one)."""
    query = Decision.select(Decision.track_id, Decision.kind, Decision.file_id).order_by(
        Decision.id
    )
    if track_ids is not None:
        wanted = list(track_ids)
        if not wanted:
            return {}
        query = query.where(Decision.track_id.in_(wanted))
    grouped: dict[str, list[tuple[str, int | None]]] = {}
    for track_id, kind, file_id in rows(query):
        grouped.setdefault(track_id, []).append((kind, file_id))
    return {track_id: fold(items) for track_id, items in grouped.items()}


def record(track_id: str, kind: Kind, file_id: int | None, actor: str | None) -> None:
    """Append one decision (checked), audited as ``collection.decision``."""
    if kind not in KINDS:
        raise DecisionError(f"unknown decision {kind!r}; expected one of {', '.join(KINDS)}")
    if kind == "not_wanted":
        file_id = None
    elif file_id is None:
        raise DecisionError(f"decision {kind!r} needs a file id")
    else:
        found = LocalFile.get_or_none(LocalFile.id == file_id)
        if found is None:
            raise UnknownTarget(f"there is no local file with id {file_id}")
        if kind in ("accept", "choose") and (not found.present or found.error):
            raise DecisionError(f"file {file_id} is not present or not readable: {found.path}")
    with api.storage().write_transaction():
        Decision.create(
            track_id=track_id, kind=kind, file_id=file_id, decided_at=time.time(), actor=actor
        )
    api.audit("collection.decision", decision=kind, track=track_id, file=file_id)


def clear(track_id: str) -> int:
    """Forget every decision about ``track_id`` (audited); returns how many there were."""
    with api.storage().write_transaction():
        removed = int(Decision.delete().where(Decision.track_id == track_id).execute())
    api.audit("collection.decisions_cleared", track=track_id, decisions=removed)
    return removed
