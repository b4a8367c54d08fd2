"""The JSON API under ``/api/library/...``: the same data as the pages, validated, in the
OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, jsonify
from pydantic import BaseModel

from soulspot.validation import NoParams, validate

from .times import iso, iso_ms
from .views import PER_PAGE, ChangesQuery, ListQuery, PlaylistQuery, moment

api_bp = Blueprint("library_api", __name__, url_prefix="/api/library")


class TrackOut(BaseModel):
    id: str
    uri: str
    name: str
    artists: list[str]
    album: str | None
    duration_ms: int | None
    is_local: bool
    spotify_url: str | None


class EntryOut(BaseModel):
    position: int
    added_at: str | None
    added_by: str | None
    track: TrackOut | None


class LikedOut(BaseModel):
    added_at: str
    track: TrackOut


class PlaylistOut(BaseModel):
    id: str
    name: str
    description: str
    owner_id: str | None
    snapshot_id: str | None
    item_count: int
    readable: bool
    removed: bool
    spotify_url: str | None


class Paging(BaseModel):
    page: int
    per_page: int
    total: int
    pages: int


class PlaylistsOut(BaseModel):
    paging: Paging
    playlists: list[PlaylistOut]


class PlaylistItemsOut(BaseModel):
    playlist: PlaylistOut
    as_of: str | None
    name_as_of: str
    versions: list[str]
    paging: Paging
    items: list[EntryOut]


class ChangeOut(BaseModel):
    kind: str
    position: int | None
    old_position: int | None
    track_id: str | None
    what: str


class DiffOut(BaseModel):
    playlist_id: str
    changes: list[ChangeOut]


class LikedListOut(BaseModel):
    as_of: str | None
    paging: Paging
    liked: list[LikedOut]


class AlbumOut(BaseModel):
    id: str
    name: str
    artists: list[str]
    release_date: str | None
    added_at: str | None
    spotify_url: str | None


class AlbumsOut(BaseModel):
    paging: Paging
    albums: list[AlbumOut]


class ArtistOut(BaseModel):
    id: str
    name: str
    spotify_url: str | None


class ArtistsOut(BaseModel):
    paging: Paging
    artists: list[ArtistOut]


class FeedItem(BaseModel):
    at: str
    kind: str
    label: str
    playlist_id: str | None
    playlist: str | None
    subject_id: str | None
    subject: str
    detail: str
    run_id: str


class FeedOut(BaseModel):
    paging: Paging
    changes: list[FeedItem]


class StatusOut(BaseModel):
    counts: dict[str, int]
    auth: dict[str, Any]
    reauthorise_message: str
    running: dict[str, Any] | None
    last_run: dict[str, Any] | None
    last_good_sync: str | None
    next_run: str | None
    paused_until: str | None


def _paging(page: Any) -> dict[str, int]:
    return {"page": page.page, "per_page": page.per_page, "total": page.total, "pages": page.pages}


def _track(row: Any) -> dict[str, Any] | None:
    if row is None or getattr(row, "id", None) is None:
        return None
    return {
        "id": row.id,
        "uri": row.uri,
        "name": row.name,
        "artists": json.loads(row.artists),
        "album": row.album,
        "duration_ms": row.duration_ms,
        "is_local": bool(row.is_local),
        "spotify_url": row.spotify_url,
    }


def _playlist(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "owner_id": row.owner_id,
        "snapshot_id": row.snapshot_id,
        "item_count": row.item_count,
        "readable": bool(row.readable),
        "removed": bool(row.removed),
        "spotify_url": row.spotify_url,
    }


@api_bp.get("/status")
@validate(query=NoParams, response=StatusOut, summary="Counts, runs, progress, auth state.")
def status(query: NoParams) -> Response:
    from .status import library_status

    return jsonify(library_status())


@api_bp.get("/playlists")
@validate(query=ListQuery, response=PlaylistsOut, summary="Playlists in the vault.")
def playlists(query: ListQuery) -> Response:
    from .queries import paged, playlists_query

    page = paged(playlists_query(query.q), query.page, PER_PAGE)
    return jsonify({"paging": _paging(page), "playlists": [_playlist(r) for r in page.rows]})


@api_bp.get("/playlists/<playlist_id>")
@validate(query=ListQuery, response=PlaylistItemsOut, summary="A playlist's items, as of a time.")
def playlist(playlist_id: str, query: ListQuery) -> Response:
    from .models import Playlist
    from .queries import entries_query, name_as_of, paged, playlist_versions

    row = Playlist.get_or_none(Playlist.id == playlist_id)
    if row is None:
        abort(404)
    at = moment(query.at)
    page = paged(entries_query(playlist_id, at, query.q), query.page, PER_PAGE)
    items = [
        {
            "position": e.position,
            "added_at": iso(e.added_at) or None,
            "added_by": e.added_by,
            "track": _track(getattr(e, "track", None)) if e.track_id else None,
        }
        for e in page.rows
    ]
    return jsonify(
        {
            "playlist": _playlist(row),
            "as_of": iso(at) if at is not None else None,
            "name_as_of": name_as_of(row, at),
            "versions": [iso_ms(v) for v in playlist_versions(playlist_id)],
            "paging": _paging(page),
            "items": items,
        }
    )


@api_bp.get("/playlists/<playlist_id>/diff")
@validate(query=PlaylistQuery, response=DiffOut, summary="Diff two versions of a playlist.")
def diff(playlist_id: str, query: PlaylistQuery) -> Response:
    from .models import Playlist
    from .queries import describe_track, diff_playlist, tracks_by_id

    if Playlist.get_or_none(Playlist.id == playlist_id) is None:
        abort(404)
    changes = diff_playlist(
        playlist_id, moment(query.from_, "from") if query.from_ else None, moment(query.to, "to")
    )
    known = tracks_by_id([c.track_id for c in changes if c.track_id])
    return jsonify(
        {
            "playlist_id": playlist_id,
            "changes": [
                {
                    "kind": c.kind,
                    "position": c.position,
                    "old_position": c.old_position,
                    "track_id": c.track_id,
                    "what": describe_track(c.track_id, known),
                }
                for c in changes
            ],
        }
    )


@api_bp.get("/liked")
@validate(query=ListQuery, response=LikedListOut, summary="Liked songs, as of a time.")
def liked(query: ListQuery) -> Response:
    from .queries import liked_query, paged

    at = moment(query.at)
    page = paged(liked_query(at, query.q), query.page, PER_PAGE)
    rows = [{"added_at": iso(r.added_at), "track": _track(r.track)} for r in page.rows]
    return jsonify(
        {"as_of": iso(at) if at is not None else None, "paging": _paging(page), "liked": rows}
    )


@api_bp.get("/albums")
@validate(query=ListQuery, response=AlbumsOut, summary="Saved albums.")
def albums(query: ListQuery) -> Response:
    from .queries import albums_query, paged

    page = paged(albums_query(moment(query.at), query.q), query.page, PER_PAGE)
    rows = [
        {
            "id": a.album_id,
            "name": a.name,
            "artists": json.loads(a.artists),
            "release_date": a.release_date,
            "added_at": iso(a.added_at) or None,
            "spotify_url": a.spotify_url,
        }
        for a in page.rows
    ]
    return jsonify({"paging": _paging(page), "albums": rows})


@api_bp.get("/artists")
@validate(query=ListQuery, response=ArtistsOut, summary="Followed artists.")
def artists(query: ListQuery) -> Response:
    from .queries import artists_query, paged

    page = paged(artists_query(moment(query.at), query.q), query.page, PER_PAGE)
    rows = [{"id": a.artist_id, "name": a.name, "spotify_url": a.spotify_url} for a in page.rows]
    return jsonify({"paging": _paging(page), "artists": rows})


@api_bp.get("/changes")
@validate(query=ChangesQuery, response=FeedOut, summary="The change feed, newest first.")
def changes(query: ChangesQuery) -> Response:
    from .feed import feed_rows
    from .queries import changes_query, paged

    page = paged(changes_query(query.kind, query.playlist), query.page, PER_PAGE)
    rows = [
        {k: v for k, v in row.items() if k not in ("position", "old_position")}
        for row in feed_rows(page.rows)
    ]
    return jsonify({"paging": _paging(page), "changes": rows})
