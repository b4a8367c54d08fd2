"""Reading the vault: current state (the kernel's :class:`~soulspot.vault.LibraryVault`),
the state *as of* any moment, version timelines, diffs, the change feed and search."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import peewee

from soulspot.vault import LikedTrack, PlaylistEntry, VaultPlaylist, VaultTrack

from .diff import ItemChange, diff_sequence
from .models import (
    Change,
    Entry,
    FollowedArtist,
    Liked,
    ListState,
    Playlist,
    Run,
    SavedAlbum,
    Track,
)


def utc(ts: float | None) -> dt.datetime | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC)


def vault_track(row: Track) -> VaultTrack:
    return VaultTrack(
        id=row.id,
        uri=row.uri,
        name=row.name,
        artists=tuple(json.loads(row.artists)),
        album=row.album,
        duration_ms=row.duration_ms,
        is_local=bool(row.is_local),
        spotify_url=row.spotify_url,
    )


def vault_playlist(row: Playlist) -> VaultPlaylist:
    return VaultPlaylist(
        id=row.id,
        name=row.name,
        owner_id=row.owner_id,
        snapshot_id=row.snapshot_id,
        item_count=row.item_count,
        readable=bool(row.readable),
        removed=bool(row.removed),
    )


def alive(model: Any, at: float | None) -> Any:
    if at is None:
        return model.valid_to.is_null()
    return (model.valid_from <= at) & (model.valid_to.is_null() | (model.valid_to > at))


def tracks_by_id(ids: Iterable[str]) -> dict[str, VaultTrack]:
    wanted = sorted(set(ids))
    out: dict[str, VaultTrack] = {}
    for start in range(0, len(wanted), 500):
        for row in Track.select().where(Track.id.in_(wanted[start : start + 500])):
            out[row.id] = vault_track(row)
    return out


def entries(playlist_id: str, at: float | None = None) -> list[PlaylistEntry]:
    rows: list[Any] = list(
        Entry.select(Entry.position, Entry.track_id, Entry.added_at)
        .where((Entry.playlist_id == playlist_id) & alive(Entry, at))
        .order_by(Entry.position)
        .tuples()
    )
    tracks = tracks_by_id(r[1] for r in rows if r[1] is not None)
    return [
        PlaylistEntry(position, tracks.get(track_id) if track_id else None, utc(added))
        for position, track_id, added in rows
    ]


def liked(at: float | None = None) -> list[LikedTrack]:
    rows: list[Any] = list(
        Liked.select(Liked.track_id, Liked.added_at)
        .where(alive(Liked, at))
        .order_by(Liked.added_at.desc(), Liked.track_id)
        .tuples()
    )
    tracks = tracks_by_id(r[0] for r in rows)
    out = []
    for track_id, added in rows:
        track = tracks.get(track_id)
        added_at = utc(added)
        if track is not None and added_at is not None:
            out.append(LikedTrack(track, added_at))
    return out


class Vault:
    """The ``library`` concern: read-only current state (``soulspot.api.library()``)."""

    def tracks(self, ids: Iterable[str] | None = None) -> Iterator[VaultTrack]:
        if ids is not None:
            yield from tracks_by_id(ids).values()
            return
        for row in Track.select().order_by(Track.id).iterator():
            yield vault_track(row)

    def playlists(self, *, include_removed: bool = False) -> list[VaultPlaylist]:
        query = Playlist.select().order_by(Playlist.name, Playlist.id)
        if not include_removed:
            query = query.where(Playlist.removed == False)  # noqa: E712 - peewee expression
        return [vault_playlist(r) for r in query]

    def playlist_entries(self, playlist_id: str) -> list[PlaylistEntry]:
        return entries(playlist_id)

    def liked(self) -> list[LikedTrack]:
        return liked()


# --- history -------------------------------------------------------------------------------


def playlist_versions(playlist_id: str) -> list[float]:
    """The playlist's versions, oldest first: for each run that changed it, the moment its
    last change of the playlist was written (as of then, the version is whole)."""
    last = peewee.fn.MAX(Change.at)
    rows: Iterable[Any] = (
        Change.select(last.alias("at"))
        .where(Change.playlist_id == playlist_id)
        .group_by(Change.run_id)
        .order_by(last)
        .tuples()
    )
    return [r[0] for r in rows]


def name_as_of(row: Playlist, at: float | None) -> str:
    if at is None:
        return str(row.name)
    later = (
        Change.select()
        .where(
            (Change.playlist_id == row.id) & (Change.kind == "playlist_renamed") & (Change.at > at)
        )
        .order_by(Change.at)
        .first()
    )
    return str(later.old_value) if later is not None else str(row.name)


def track_keys(items: list[PlaylistEntry]) -> list[str | None]:
    return [e.track.id if e.track else None for e in items]


def diff_playlist(playlist_id: str, old_at: float | None, new_at: float | None) -> list[ItemChange]:
    old = track_keys(entries(playlist_id, old_at)) if old_at is not None else []
    new = track_keys(entries(playlist_id, new_at))
    return diff_sequence(old, new)


def diff_liked(old_at: float | None, new_at: float | None) -> tuple[list[str], list[str]]:
    old = {t.track.id for t in liked(old_at)} if old_at is not None else set()
    new = {t.track.id for t in liked(new_at)}
    return sorted(new - old), sorted(old - new)


# --- lists and the feed ----------------------------------------------------------------------


@dataclass(frozen=True)
class PageOf:
    rows: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def paged(query: Any, page: int, per_page: int) -> PageOf:
    total = query.count()
    rows = list(query.paginate(page, per_page))
    return PageOf(rows, total, page, per_page)


def search_tracks(query: Any, text: str) -> Any:
    if not text:
        return query
    like = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return query.where(Track.search**like)


def liked_query(at: float | None, text: str = "") -> Any:
    query = (
        Liked.select(Liked, Track)
        .join(Track, on=(Liked.track_id == Track.id), attr="track")
        .where(alive(Liked, at))
        .order_by(Liked.added_at.desc(), Liked.track_id)
    )
    return search_tracks(query, text)


def entries_query(playlist_id: str, at: float | None, text: str = "") -> Any:
    query = (
        Entry.select(Entry, Track)
        .join(Track, peewee.JOIN.LEFT_OUTER, on=(Entry.track_id == Track.id), attr="track")
        .where((Entry.playlist_id == playlist_id) & alive(Entry, at))
        .order_by(Entry.position)
    )
    return search_tracks(query, text)


def albums_query(at: float | None, text: str = "") -> Any:
    query = SavedAlbum.select().where(alive(SavedAlbum, at)).order_by(SavedAlbum.added_at.desc())
    if text:
        like = f"%{text.lower()}%"
        query = query.where(
            peewee.fn.lower(SavedAlbum.name).contains(text.lower())
            | (peewee.fn.lower(SavedAlbum.artists) ** like)
        )
    return query


def artists_query(at: float | None, text: str = "") -> Any:
    query = FollowedArtist.select().where(alive(FollowedArtist, at)).order_by(FollowedArtist.name)
    if text:
        query = query.where(peewee.fn.lower(FollowedArtist.name).contains(text.lower()))
    return query


def playlists_query(text: str = "", include_removed: bool = True) -> Any:
    query = Playlist.select().order_by(Playlist.removed, Playlist.rank, Playlist.name)
    if not include_removed:
        query = query.where(Playlist.removed == False)  # noqa: E712
    if text:
        query = query.where(peewee.fn.lower(Playlist.name).contains(text.lower()))
    return query


def changes_query(kind: str = "", playlist_id: str = "", since: float | None = None) -> Any:
    query = Change.select().order_by(Change.at.desc(), Change.id.desc())
    if kind:
        query = query.where(Change.kind.startswith(kind))
    if playlist_id:
        query = query.where(Change.playlist_id == playlist_id)
    if since is not None:
        query = query.where(Change.at >= since)
    return query


def counts() -> dict[str, int]:
    return {
        "playlists": Playlist.select().where(Playlist.removed == False).count(),  # noqa: E712
        "removed_playlists": Playlist.select().where(Playlist.removed == True).count(),  # noqa: E712
        "entries": Entry.select().where(Entry.valid_to.is_null()).count(),
        "liked": Liked.select().where(Liked.valid_to.is_null()).count(),
        "albums": SavedAlbum.select().where(SavedAlbum.valid_to.is_null()).count(),
        "artists": FollowedArtist.select().where(FollowedArtist.valid_to.is_null()).count(),
        "tracks": Track.select().count(),
        "changes": Change.select().count(),
    }


def last_runs(limit: int = 10) -> list[Run]:
    return list(Run.select().order_by(Run.started_at.desc()).limit(limit))


def last_good_run() -> Run | None:
    found: Run | None = (
        Run.select().where(Run.status == "ok").order_by(Run.finished_at.desc()).first()
    )
    return found


def running() -> Run | None:
    found: Run | None = (
        Run.select().where(Run.status == "running").order_by(Run.started_at.desc()).first()
    )
    return found


def list_states() -> dict[str, ListState]:
    return {s.name: s for s in ListState.select()}


def describe_track(track_id: str | None, known: dict[str, VaultTrack]) -> str:
    if track_id is None:
        return "(unavailable)"
    track = known.get(track_id)
    if track is None:
        return track_id
    return f"{', '.join(track.artists)} - {track.name}" if track.artists else track.name
