"""Keep every Spotify track's standing (matched / review / missing / not_wanted) current.

Only what changed is rematched: after a scan, the tracks that a new, changed or removed file
may concern (those it was matched to or proposed for, those sharing an index word with it,
the one whose id its tags carry); after a library sync, the tracks the sync names; always,
tracks that have no standing yet. The owner's decisions are applied on top of the matcher's
answer and never changed here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from soulspot import api
from soulspot.vault import LibraryVault, VaultTrack

from . import decisions
from .matcher import FileEntry, FileIndex, MatchResult, TrackEntry, file_words, track_words
from .models import Candidate, LocalFile, TrackMatch, rows

_BATCH = 400


@dataclass(frozen=True)
class RematchSummary:
    tracks: int
    matched: int
    review: int
    missing: int
    not_wanted: int
    seconds: float


def is_music(track: VaultTrack) -> bool:
    return not track.uri.startswith("spotify:episode:")


def as_entry(track: VaultTrack) -> TrackEntry:
    return TrackEntry(track.id, track.name, track.artists, track.album, track.duration_ms)


def vault_tracks(vault: LibraryVault, ids: Iterable[str] | None = None) -> dict[str, TrackEntry]:
    return {t.id: as_entry(t) for t in vault.tracks(ids) if is_music(t)}


def present_files() -> Iterator[FileEntry]:
    query = LocalFile.select(
        LocalFile.id,
        LocalFile.title,
        LocalFile.artist,
        LocalFile.album,
        LocalFile.duration,
        LocalFile.spotify_id,
    ).where(LocalFile.present == True, LocalFile.error.is_null())  # noqa: E712
    for row in rows(query):
        yield FileEntry(*row)


def file_index() -> FileIndex:
    return FileIndex(present_files())


def affected_by_files(changed: set[int], tracks: dict[str, TrackEntry]) -> set[str]:
    """Tracks a change to the files ``changed`` may concern (a superset is fine)."""
    if not changed:
        return set()
    ids = list(changed)
    affected: set[str] = set()
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        affected.update(
            r[0]
            for r in rows(
                TrackMatch.select(TrackMatch.track_id).where(TrackMatch.file_id.in_(chunk))
            )
        )
        affected.update(
            r[0]
            for r in rows(Candidate.select(Candidate.track_id).where(Candidate.file_id.in_(chunk)))
        )
    words: set[str] = set()
    tag_ids: set[str] = set()
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        query = LocalFile.select(
            LocalFile.id,
            LocalFile.title,
            LocalFile.artist,
            LocalFile.album,
            LocalFile.duration,
            LocalFile.spotify_id,
        ).where(LocalFile.id.in_(chunk))
        for row in rows(query):
            entry = FileEntry(*row)
            words |= file_words(entry)
            if entry.spotify_id:
                tag_ids.add(entry.spotify_id)
    for track in tracks.values():
        if track.id in tag_ids or not words.isdisjoint(track_words(track)):
            affected.add(track.id)
    return affected


def without_standing(track_ids: Iterable[str]) -> set[str]:
    ids = set(track_ids)
    known = {r[0] for r in rows(TrackMatch.select(TrackMatch.track_id))}
    return ids - known


def rematch(
    tracks: dict[str, TrackEntry], only: set[str] | None = None, index: FileIndex | None = None
) -> RematchSummary:
    """Match ``tracks`` (those in ``only``, when given) and store their standing."""
    started = time.perf_counter()
    chosen = list(tracks) if only is None else [t for t in only if t in tracks]
    index = index if index is not None else file_index()
    owner = decisions.load(chosen if len(chosen) < 5000 else None)
    results: list[tuple[MatchResult, str, int | None, float | None, str | None]] = []
    counts = {"matched": 0, "review": 0, "missing": 0, "not_wanted": 0}
    for track_id in chosen:
        state = owner.get(track_id, decisions.TrackDecisions())
        result = index.match(tracks[track_id], rejected=state.rejected)
        status: str = result.status
        file_id, score, method = result.file_id, result.score, result.method
        if state.pinned is not None:
            if state.pinned in index.ids:
                status, file_id, method = "matched", state.pinned, "owner"
                score = next((c.score for c in result.candidates if c.file_id == file_id), None)
            else:
                status, file_id, score, method = "missing", None, None, "owner"
        if state.not_wanted:
            status, file_id, method = "not_wanted", None, "owner"
        counts[status] += 1
        results.append((result, status, file_id, score, method))
    _store(results)
    return RematchSummary(
        len(chosen),
        counts["matched"],
        counts["review"],
        counts["missing"],
        counts["not_wanted"],
        time.perf_counter() - started,
    )


_MATCH_UPSERT = (
    "INSERT OR REPLACE INTO collection_matches (track_id, status, file_id, score, method, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?)"
)
_CANDIDATE_INSERT = (
    "INSERT OR REPLACE INTO collection_candidates (track_id, file_id, score) VALUES (?, ?, ?)"
)


def _store(results: list[tuple[MatchResult, str, int | None, float | None, str | None]]) -> None:
    """Write standings and candidates with executemany (peewee's insert_many is slow to
    build large statements)."""
    now = time.time()
    store = api.storage()
    for start in range(0, len(results), _BATCH):
        chunk = results[start : start + _BATCH]
        track_ids = [r[0].track_id for r in chunk]
        with store.write_transaction():
            Candidate.delete().where(Candidate.track_id.in_(track_ids)).execute()
            cursor = store.database.cursor()
            cursor.executemany(
                _MATCH_UPSERT,
                [
                    (result.track_id, status, file_id, score, method, now)
                    for result, status, file_id, score, method in chunk
                ],
            )
            cursor.executemany(
                _CANDIDATE_INSERT,
                [(r.track_id, c.file_id, c.score) for r, *_ in chunk for c in r.candidates],
            )
