"""The objects the Spotify Web API stand-in serves, rendered as a Development-Mode app sees
them in 2026: no ``external_ids``, ``popularity``, ``available_markets``; a playlist counts its
entries under ``items.total`` and an entry's object is under ``item``."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

API = "https://api.spotify.com/v1"
OPEN = "https://open.spotify.com"
_NOT_BASE62 = bytes.maketrans(b"+/", b"xz")


def spotify_id(seed: str) -> str:
    """A 22-character base62 id, stable for one ``seed`` (like Spotify's)."""
    digest = base64.b64encode(hashlib.sha256(seed.encode()).digest()[:17])
    return digest[:22].translate(_NOT_BASE62).decode()


def iso(moment: datetime) -> str:
    """Spotify's timestamp format: UTC, seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Artist:
    id: str
    name: str

    def simple(self) -> dict[str, Any]:
        return {
            "external_urls": {"spotify": f"{OPEN}/artist/{self.id}"},
            "href": f"{API}/artists/{self.id}",
            "id": self.id,
            "name": self.name,
            "type": "artist",
            "uri": f"spotify:artist:{self.id}",
        }

    def full(self) -> dict[str, Any]:
        return {**self.simple(), "images": []}


@dataclass(frozen=True)
class Album:
    id: str
    name: str
    artists: tuple[Artist, ...]
    release_date: str = "2001-01-01"
    album_type: str = "album"
    total_tracks: int = 10

    def simple(self) -> dict[str, Any]:
        return {
            "album_type": self.album_type,
            "artists": [a.simple() for a in self.artists],
            "external_urls": {"spotify": f"{OPEN}/album/{self.id}"},
            "href": f"{API}/albums/{self.id}",
            "id": self.id,
            "images": [],
            "name": self.name,
            "release_date": self.release_date,
            "release_date_precision": "day" if len(self.release_date) == 10 else "year",
            "total_tracks": self.total_tracks,
            "type": "album",
            "uri": f"spotify:album:{self.id}",
        }


@dataclass(frozen=True)
class Track:
    """A catalogue track, or a local file (``is_local``: no ids, a ``spotify:local:`` URI)."""

    id: str | None
    name: str
    artists: tuple[Artist, ...]
    album: Album | None
    duration_ms: int
    explicit: bool = False
    track_number: int = 1
    disc_number: int = 1
    is_local: bool = False

    @property
    def uri(self) -> str:
        if self.is_local:
            parts = [a.name for a in self.artists[:1]] or [""]
            parts += [
                self.album.name if self.album else "",
                self.name,
                str(self.duration_ms // 1000),
            ]
            return "spotify:local:" + ":".join(p.replace(" ", "+") for p in parts)
        return f"spotify:track:{self.id}"

    def render(self) -> dict[str, Any]:
        if self.is_local:
            album: dict[str, Any] = {
                "album_type": None,
                "artists": [],
                "external_urls": {},
                "href": None,
                "id": None,
                "images": [],
                "name": self.album.name if self.album else "",
                "release_date": None,
                "release_date_precision": None,
                "type": "album",
                "uri": None,
            }
            artists: list[dict[str, Any]] = [
                {
                    "external_urls": {},
                    "href": None,
                    "id": None,
                    "name": a.name,
                    "type": "artist",
                    "uri": None,
                }
                for a in self.artists
            ]
            return {
                "album": album,
                "artists": artists,
                "disc_number": 0,
                "duration_ms": self.duration_ms,
                "explicit": False,
                "external_urls": {},
                "href": None,
                "id": None,
                "is_local": True,
                "name": self.name,
                "track_number": 0,
                "type": "track",
                "uri": self.uri,
            }
        assert self.album is not None
        return {
            "album": self.album.simple(),
            "artists": [a.simple() for a in self.artists],
            "disc_number": self.disc_number,
            "duration_ms": self.duration_ms,
            "explicit": self.explicit,
            "external_urls": {"spotify": f"{OPEN}/track/{self.id}"},
            "href": f"{API}/tracks/{self.id}",
            "id": self.id,
            "is_local": False,
            "name": self.name,
            "track_number": self.track_number,
            "type": "track",
            "uri": self.uri,
        }


@dataclass(frozen=True)
class Episode:
    id: str
    name: str
    show: str
    publisher: str
    duration_ms: int
    release_date: str = "2024-01-01"

    @property
    def uri(self) -> str:
        return f"spotify:episode:{self.id}"

    def render(self) -> dict[str, Any]:
        show_id = spotify_id("show:" + self.show)
        return {
            "description": "",
            "duration_ms": self.duration_ms,
            "explicit": False,
            "external_urls": {"spotify": f"{OPEN}/episode/{self.id}"},
            "href": f"{API}/episodes/{self.id}",
            "id": self.id,
            "is_local": False,
            "name": self.name,
            "release_date": self.release_date,
            "release_date_precision": "day",
            "show": {
                "external_urls": {"spotify": f"{OPEN}/show/{show_id}"},
                "id": show_id,
                "name": self.show,
                "publisher": self.publisher,
                "type": "show",
                "uri": f"spotify:show:{show_id}",
            },
            "type": "episode",
            "uri": self.uri,
        }


#: What a playlist entry holds: a track, an episode, or ``None`` (no longer available).
Item = Track | Episode | None


@dataclass
class Entry:
    item: Item
    added_at: datetime
    added_by: str

    def render(self) -> dict[str, Any]:
        return {
            "added_at": iso(self.added_at),
            "added_by": {
                "external_urls": {"spotify": f"{OPEN}/user/{self.added_by}"},
                "href": f"{API}/users/{self.added_by}",
                "id": self.added_by,
                "type": "user",
                "uri": f"spotify:user:{self.added_by}",
            },
            "is_local": bool(isinstance(self.item, Track) and self.item.is_local),
            "primary_color": None,
            "item": None if self.item is None else self.item.render(),
        }


@dataclass
class Playlist:
    id: str
    name: str
    owner_id: str
    owner_name: str
    description: str = ""
    public: bool = False
    collaborative: bool = False
    entries: list[Entry] = field(default_factory=list)
    version: int = 1

    @property
    def snapshot_id(self) -> str:
        return spotify_id(f"snapshot:{self.id}:{self.version}") + "AAAA" + str(self.version)

    def render(self) -> dict[str, Any]:
        """The playlist object of ``/me/playlists`` and ``/playlists/{id}`` (no items)."""
        return {
            "collaborative": self.collaborative,
            "description": self.description,
            "external_urls": {"spotify": f"{OPEN}/playlist/{self.id}"},
            "href": f"{API}/playlists/{self.id}",
            "id": self.id,
            "images": [],
            "name": self.name,
            "owner": {
                "display_name": self.owner_name,
                "external_urls": {"spotify": f"{OPEN}/user/{self.owner_id}"},
                "href": f"{API}/users/{self.owner_id}",
                "id": self.owner_id,
                "type": "user",
                "uri": f"spotify:user:{self.owner_id}",
            },
            "public": self.public,
            "snapshot_id": self.snapshot_id,
            "items": {"href": f"{API}/playlists/{self.id}/items", "total": len(self.entries)},
            "type": "playlist",
            "uri": f"spotify:playlist:{self.id}",
        }
