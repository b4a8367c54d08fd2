"""The change feed, in words: one line per change, with names rather than ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .models import Change, FollowedArtist, Playlist, SavedAlbum
from .queries import describe_track, tracks_by_id
from .times import iso

LABELS = {
    "playlist_created": "playlist created",
    "playlist_renamed": "playlist renamed",
    "playlist_description": "description changed",
    "playlist_removed": "playlist removed from Spotify",
    "playlist_restored": "playlist back on Spotify",
    "item_added": "added",
    "item_removed": "removed",
    "item_moved": "moved",
    "liked": "liked",
    "unliked": "un-liked",
    "album_saved": "album saved",
    "album_removed": "album removed",
    "artist_followed": "artist followed",
    "artist_unfollowed": "artist unfollowed",
}
KINDS = tuple(LABELS)


def feed_rows(changes: Sequence[Change]) -> list[dict[str, Any]]:
    track_ids = [
        c.subject_id
        for c in changes
        if c.kind.startswith(("item_", "liked", "unliked")) and c.subject_id
    ]
    tracks = tracks_by_id(track_ids)
    playlist_names = {
        p.id: p.name
        for p in Playlist.select(Playlist.id, Playlist.name).where(
            Playlist.id.in_(sorted({c.playlist_id for c in changes if c.playlist_id}))
        )
    }
    album_names = {
        a.album_id: a.name
        for a in SavedAlbum.select(SavedAlbum.album_id, SavedAlbum.name).where(
            SavedAlbum.album_id.in_(
                sorted({c.subject_id for c in changes if c.kind.startswith("album")})
            )
        )
    }
    artist_names = {
        a.artist_id: a.name
        for a in FollowedArtist.select(FollowedArtist.artist_id, FollowedArtist.name).where(
            FollowedArtist.artist_id.in_(
                sorted({c.subject_id for c in changes if c.kind.startswith("artist")})
            )
        )
    }
    rows = []
    for c in changes:
        if c.kind.startswith("item_") or c.kind in ("liked", "unliked"):
            subject = describe_track(c.subject_id, tracks)
        elif c.kind.startswith("album"):
            subject = album_names.get(c.subject_id or "", c.subject_id or "")
        elif c.kind.startswith("artist"):
            subject = artist_names.get(c.subject_id or "", c.subject_id or "")
        else:
            subject = c.new_value or c.old_value or ""
        detail = ""
        if c.kind == "playlist_renamed":
            detail = f"{c.old_value} → {c.new_value}"
        elif c.kind == "playlist_description":
            detail = f"“{c.new_value}”"
        elif c.kind == "item_moved":
            detail = f"position {c.old_position} → {c.position}"
        elif c.kind == "item_added":
            detail = f"at position {c.position}"
        elif c.kind == "item_removed":
            detail = f"from position {c.old_position}"
        elif c.kind == "liked" and c.new_value:
            detail = f"liked on Spotify at {c.new_value}"
        rows.append(
            {
                "at": iso(c.at),
                "kind": c.kind,
                "label": LABELS.get(c.kind, c.kind),
                "playlist_id": c.playlist_id,
                "playlist": playlist_names.get(c.playlist_id or "", c.playlist_id),
                "subject_id": c.subject_id,
                "subject": subject,
                "detail": detail,
                "position": c.position,
                "old_position": c.old_position,
                "run_id": c.run_id,
            }
        )
    return rows
