"""Exports of the vault as of a moment: JSON (lossless, versioned), CSV (Exportify's columns,
so tools that read Exportify files read ours) and M3U8 (``spotify:track:`` URIs with
``#EXTINF``). One file per playlist plus the liked songs; JSON is one file with everything."""

from __future__ import annotations

import csv
import io
import json
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .models import Change, Entry, FollowedArtist, Liked, Playlist, SavedAlbum, Track
from .queries import alive, name_as_of
from .times import iso

SCHEMA_VERSION = 1
FORMATS = ("json", "csv", "m3u8")
#: Exportify's header (watsonbox/exportify), in its order.
EXPORTIFY_COLUMNS = [
    "Track URI",
    "Track Name",
    "Artist URI(s)",
    "Artist Name(s)",
    "Album URI",
    "Album Name",
    "Album Artist URI(s)",
    "Album Artist Name(s)",
    "Album Release Date",
    "Album Image URL",
    "Disc Number",
    "Track Number",
    "Track Duration (ms)",
    "Track Preview URL",
    "Explicit",
    "Popularity",
    "ISRC",
    "Added By",
    "Added At",
]


def _track(row: Track | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "id": row.id,
        "uri": row.uri,
        "type": row.kind,
        "name": row.name,
        "artists": json.loads(row.artists),
        "album": row.album,
        "duration_ms": row.duration_ms,
        "is_local": bool(row.is_local),
        "spotify_url": row.spotify_url,
    }


def _tracks(ids: set[str]) -> dict[str, Track]:
    wanted = sorted(ids)
    out: dict[str, Track] = {}
    for start in range(0, len(wanted), 500):
        for row in Track.select().where(Track.id.in_(wanted[start : start + 500])):
            out[row.id] = row
    return out


def _playlists(at: float | None) -> list[Playlist]:
    query = Playlist.select().order_by(Playlist.rank, Playlist.name)
    rows = list(query)
    if at is None:
        return [p for p in rows if not p.removed]
    # as of ``at``: the latest of its created / removed / restored changes by then decides
    # (``removed_at`` keeps only the last removal: a playlist removed and restored since
    # would look present during its removal)
    state: dict[str, str] = {}
    changes = (
        Change.select(Change.playlist_id, Change.kind)
        .where(Change.kind.in_(PRESENCE_KINDS) & (Change.at <= at))
        .order_by(Change.at, Change.id)
    )
    for change in changes:
        if change.playlist_id is not None:
            state[change.playlist_id] = change.kind
    return [p for p in rows if p.first_seen <= at and state.get(p.id) != "playlist_removed"]


#: The changes that start or end a playlist's presence in the library.
PRESENCE_KINDS = ("playlist_created", "playlist_removed", "playlist_restored")


def _entries(playlist_id: str, at: float | None) -> list[Entry]:
    return list(
        Entry.select()
        .where((Entry.playlist_id == playlist_id) & alive(Entry, at))
        .order_by(Entry.position)
    )


def snapshot(at: float | None) -> dict[str, Any]:
    """Everything the vault knew as of ``at`` (``None``: now), lossless."""
    playlists = []
    for p in _playlists(at):
        rows = _entries(p.id, at)
        tracks = _tracks({r.track_id for r in rows if r.track_id})
        playlists.append(
            {
                "id": p.id,
                "name": name_as_of(p, at),
                "description": p.description,
                "owner_id": p.owner_id,
                "owner_name": p.owner_name,
                "snapshot_id": p.snapshot_id,
                "collaborative": bool(p.collaborative),
                "public": bool(p.public),
                "readable": bool(p.readable),
                "spotify_url": p.spotify_url,
                "items": [
                    {
                        "position": r.position,
                        "added_at": iso(r.added_at) or None,
                        "added_by": r.added_by,
                        "track": _track(tracks.get(r.track_id)) if r.track_id else None,
                    }
                    for r in rows
                ],
            }
        )
    liked_rows = list(
        Liked.select().where(alive(Liked, at)).order_by(Liked.added_at.desc(), Liked.track_id)
    )
    liked_tracks = _tracks({r.track_id for r in liked_rows})
    return {
        "schema": "soulspot.library.export",
        "schema_version": SCHEMA_VERSION,
        "exported_at": iso(time.time()),
        "as_of": iso(at) if at is not None else None,
        "playlists": playlists,
        "liked": [
            {"added_at": iso(r.added_at), "track": _track(liked_tracks.get(r.track_id))}
            for r in liked_rows
        ],
        "albums": [
            {
                "id": a.album_id,
                "name": a.name,
                "artists": json.loads(a.artists),
                "release_date": a.release_date,
                "spotify_url": a.spotify_url,
                "added_at": iso(a.added_at) or None,
            }
            for a in SavedAlbum.select().where(alive(SavedAlbum, at)).order_by(SavedAlbum.id)
        ],
        "artists": [
            {"id": a.artist_id, "name": a.name, "spotify_url": a.spotify_url}
            for a in FollowedArtist.select()
            .where(alive(FollowedArtist, at))
            .order_by(FollowedArtist.name)
        ],
    }


def safe_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^\w\- ]+", "_", name).strip() or "playlist"
    base = base[:80]
    candidate, n = base, 2
    while candidate.lower() in taken:
        candidate = f"{base} ({n})"
        n += 1
    taken.add(candidate.lower())
    return candidate


def _lists(data: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """``(name, items)`` per playlist, then the liked songs; items have ``track``,
    ``added_at`` and maybe ``added_by``."""
    taken: set[str] = set()
    yield safe_name("Liked Songs", taken), data["liked"]
    for playlist in data["playlists"]:
        yield safe_name(playlist["name"], taken), playlist["items"]


def _csv(items: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORTIFY_COLUMNS)
    for item in items:
        track = item["track"]
        if track is None:
            continue
        row = dict.fromkeys(EXPORTIFY_COLUMNS, "")
        row["Track URI"] = track["uri"]
        row["Track Name"] = track["name"]
        row["Artist Name(s)"] = ",".join(track["artists"])
        row["Album Name"] = track["album"] or ""
        row["Track Duration (ms)"] = "" if track["duration_ms"] is None else track["duration_ms"]
        row["Added By"] = f"spotify:user:{item['added_by']}" if item.get("added_by") else ""
        row["Added At"] = item["added_at"] or ""
        writer.writerow(row.values())
    return out.getvalue()


#: Line breaks and other control characters: in a name they would end an M3U8 line early.
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def one_line(text: str) -> str:
    """``text`` fit for one M3U8 line (a title with ``\r`` in it, a name with a newline)."""
    return _BREAKS.sub(" ", text)


def _m3u8(items: list[dict[str, Any]]) -> str:
    lines = ["#EXTM3U"]
    for item in items:
        track = item["track"]
        if track is None:
            continue
        seconds = -1 if track["duration_ms"] is None else round(track["duration_ms"] / 1000)
        title = one_line(track["name"])
        artists = one_line(", ".join(track["artists"]))
        lines.append(
            f"#EXTINF:{seconds},{artists} - {title}" if artists else f"#EXTINF:{seconds},{title}"
        )
        lines.append(one_line(track["uri"]))
    return "\n".join(lines) + "\n"


def render(fmt: str, at: float | None) -> dict[str, str]:
    """``{file name: content}`` of an export."""
    data = snapshot(at)
    if fmt == "json":
        return {"library.json": json.dumps(data, ensure_ascii=False, indent=1) + "\n"}
    files: dict[str, str] = {}
    for name, items in _lists(data):
        files[f"{name}.{fmt}"] = _csv(items) if fmt == "csv" else _m3u8(items)
    return files


def write(fmt: str, at: float | None, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render(fmt, at).items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def zipped(fmt: str, at: float | None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in render(fmt, at).items():
            archive.writestr(name, text)
    return buffer.getvalue()
