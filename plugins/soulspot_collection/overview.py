"""What the pages, the CLI and the API show: shares per list, missing tracks, review items,
files matching nothing. Reads the vault's current lists and the stored standings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from soulspot.vault import LibraryVault, VaultTrack

from .models import LocalFile, TrackMatch, rows

LIKED = "liked"
LIKED_NAME = "Liked Songs"
Standing = dict[str, tuple[str, int | None, float | None, str | None]]


@dataclass(frozen=True)
class ListEntry:
    list_id: str
    list_name: str
    position: int
    track: VaultTrack


def lists(vault: LibraryVault) -> list[tuple[str, str]]:
    """(id, name) of liked songs and every current readable playlist."""
    found = [(LIKED, LIKED_NAME)]
    found += [(p.id, p.name) for p in vault.playlists() if p.readable and not p.removed]
    return found


def entries(vault: LibraryVault, list_id: str) -> list[ListEntry]:
    if list_id == LIKED:
        return [
            ListEntry(LIKED, LIKED_NAME, n, liked.track) for n, liked in enumerate(vault.liked())
        ]
    names = {p.id: p.name for p in vault.playlists(include_removed=True)}
    if list_id not in names:
        raise KeyError(list_id)
    return [
        ListEntry(list_id, names[list_id], e.position, e.track)
        for e in vault.playlist_entries(list_id)
        if e.track is not None and not e.track.uri.startswith("spotify:episode:")
    ]


def share(items: list[ListEntry], standing: Standing) -> dict[str, Any]:
    counts = {"matched": 0, "review": 0, "missing": 0, "not_wanted": 0}
    for item in items:
        counts[standing.get(item.track.id, ("missing",))[0]] += 1
    wanted = len(items) - counts["not_wanted"]
    return {
        "tracks": len(items),
        **counts,
        "matched_share": round(counts["matched"] / wanted, 4) if wanted else 1.0,
    }


def shares(vault: LibraryVault, standing: Standing) -> list[dict[str, Any]]:
    return [
        {"id": list_id, "name": name, **share(entries(vault, list_id), standing)}
        for list_id, name in lists(vault)
    ]


def track_dict(track: VaultTrack) -> dict[str, Any]:
    return {
        "id": track.id,
        "title": track.name,
        "artists": list(track.artists),
        "album": track.album,
        "duration_ms": track.duration_ms,
        "spotify_url": track.spotify_url,
    }


def missing(
    vault: LibraryVault, standing: Standing, list_id: str | None = None
) -> list[dict[str, Any]]:
    """Missing tracks per list (liked songs first), in list order."""
    chosen = [list_id] if list_id is not None else [lid for lid, _ in lists(vault)]
    found = []
    for lid in chosen:
        for item in entries(vault, lid):
            if standing.get(item.track.id, ("missing",))[0] == "missing":
                found.append(
                    {
                        "list_id": item.list_id,
                        "list": item.list_name,
                        "position": item.position,
                        **track_dict(item.track),
                    }
                )
    return found


def file_dict(row: LocalFile) -> dict[str, Any]:
    return {
        "id": row.id,
        "path": row.path,
        "title": row.title,
        "artist": row.artist,
        "album": row.album,
        "duration": round(row.duration, 1) if row.duration else None,
        "source": row.source,
        "spotify_id": row.spotify_id,
        "error": row.error,
    }


def unmatched_files(limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """Present, readable files no track is matched to."""
    matched = TrackMatch.select(TrackMatch.file_id).where(TrackMatch.file_id.is_null(False))
    query = LocalFile.select().where(
        LocalFile.present == True,  # noqa: E712
        LocalFile.error.is_null(),
        LocalFile.id.not_in(matched),
    )
    total = query.count()
    page = query.order_by(LocalFile.path).limit(limit).offset(offset)
    return total, [file_dict(row) for row in page]


def unreadable_files(limit: int) -> list[dict[str, Any]]:
    query = (
        LocalFile.select()
        .where(LocalFile.present == True, LocalFile.error.is_null(False))  # noqa: E712
        .order_by(LocalFile.path)
        .limit(limit)
    )
    return [file_dict(row) for row in query]


def review_ids(limit: int, offset: int) -> tuple[int, list[str]]:
    query = TrackMatch.select(TrackMatch.track_id).where(TrackMatch.status == "review")
    total = query.count()
    page = query.order_by(TrackMatch.score.desc(), TrackMatch.track_id).limit(limit).offset(offset)
    return total, [r[0] for r in rows(page)]
