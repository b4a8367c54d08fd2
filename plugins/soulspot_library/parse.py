"""Spotify's answers, checked and turned into plain records.

Nothing from an answer is trusted: a missing field or a wrong type raises :class:`Malformed`
naming the endpoint and the field (``GET /me/tracks: items[3].added_at is missing``), and the
step that read it records nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Malformed(Exception):
    """An answer does not have the shape Spotify documents."""


@dataclass(frozen=True)
class TrackRec:
    id: str
    uri: str
    kind: str  # track | episode
    name: str
    artists: tuple[str, ...]
    album: str | None
    duration_ms: int | None
    is_local: bool
    spotify_url: str | None


@dataclass(frozen=True)
class PlaylistRec:
    id: str
    name: str
    description: str
    owner_id: str | None
    owner_name: str | None
    snapshot_id: str
    total: int
    collaborative: bool
    public: bool
    spotify_url: str | None


@dataclass(frozen=True)
class EntryRec:
    track: TrackRec | None
    added_at: float | None
    added_by: str | None


@dataclass(frozen=True)
class SavedRec:
    """A liked song (``track``) with Spotify's ``added_at``."""

    track: TrackRec
    added_at: float


@dataclass(frozen=True)
class AlbumRec:
    id: str
    name: str
    artists: tuple[str, ...]
    release_date: str | None
    spotify_url: str | None
    added_at: float | None


@dataclass(frozen=True)
class ArtistRec:
    id: str
    name: str
    spotify_url: str | None


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next: str | None
    total: int
    after: str | None = None


class Reader:
    """Field access that names what is wrong: ``Reader("GET /me/tracks")``."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def fail(self, where: str, problem: str) -> Malformed:
        return Malformed(f"{self.endpoint}: {where} {problem}")

    def obj(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"is {_kind(value)}, expected an object")
        return value

    def get(
        self,
        obj: Mapping[str, Any],
        key: str,
        where: str,
        kind: type | tuple[type, ...],
        *,
        optional: bool = False,
    ) -> Any:
        path = f"{where}.{key}" if where else key
        if key not in obj:
            if optional:
                return None
            raise self.fail(path, "is missing")
        value = obj[key]
        if value is None and optional:
            return None
        if isinstance(value, bool) and kind in (int, (int, float)):
            raise self.fail(path, f"is {_kind(value)}, expected {_name(kind)}")
        if not isinstance(value, kind):
            raise self.fail(path, f"is {_kind(value)}, expected {_name(kind)}")
        return value

    def time(
        self, obj: Mapping[str, Any], key: str, where: str, *, optional: bool = False
    ) -> float | None:
        raw = self.get(obj, key, where, str, optional=optional)
        if raw is None:
            return None
        try:
            moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise self.fail(f"{where}.{key}", f"is {raw!r}, expected an ISO 8601 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.timestamp()

    # --- paging ----------------------------------------------------------------------------

    def page(self, data: Any, wrapper: str | None = None) -> Page:
        root = self.obj(data, "answer")
        where = ""
        if wrapper is not None:
            root = self.obj(self.get(root, wrapper, "", Mapping), wrapper)
            where = wrapper
        items = self.get(root, "items", where, list)
        nxt = self.get(root, "next", where, str, optional=True)
        total = self.get(root, "total", where, int)
        after = None
        if wrapper is not None:  # cursor paging
            cursors = self.get(root, "cursors", where, Mapping, optional=True) or {}
            after = self.get(cursors, "after", f"{where}.cursors", str, optional=True)
        return Page(list(items), nxt, total, after)

    # --- objects ---------------------------------------------------------------------------

    def playlist(self, value: Any, where: str) -> PlaylistRec:
        obj = self.obj(value, where)
        owner = self.get(obj, "owner", where, Mapping, optional=True) or {}
        items = self.obj(self.get(obj, "items", where, Mapping), f"{where}.items")
        return PlaylistRec(
            id=self.get(obj, "id", where, str),
            name=self.get(obj, "name", where, str),
            description=self.get(obj, "description", where, str, optional=True) or "",
            owner_id=self.get(owner, "id", f"{where}.owner", str, optional=True),
            owner_name=self.get(owner, "display_name", f"{where}.owner", str, optional=True),
            snapshot_id=self.get(obj, "snapshot_id", where, str),
            total=self.get(items, "total", f"{where}.items", int),
            collaborative=bool(self.get(obj, "collaborative", where, bool, optional=True)),
            public=bool(self.get(obj, "public", where, bool, optional=True)),
            spotify_url=self._url(obj, where),
        )

    def track(self, value: Any, where: str) -> TrackRec:
        obj = self.obj(value, where)
        kind = self.get(obj, "type", where, str)
        name = self.get(obj, "name", where, str)
        uri = self.get(obj, "uri", where, str)
        is_local = bool(self.get(obj, "is_local", where, bool, optional=True))
        duration = self.get(obj, "duration_ms", where, int, optional=True)
        if kind == "episode":
            show = self.get(obj, "show", where, Mapping, optional=True) or {}
            show_name = self.get(show, "name", f"{where}.show", str, optional=True)
            publisher = self.get(show, "publisher", f"{where}.show", str, optional=True)
            artists: tuple[str, ...] = (publisher,) if publisher else ()
            album = show_name
        elif kind == "track":
            raw_artists = self.get(obj, "artists", where, list)
            artists = tuple(
                self.get(self.obj(a, f"{where}.artists[{i}]"), "name", f"{where}.artists[{i}]", str)
                for i, a in enumerate(raw_artists)
            )
            album_obj = self.get(obj, "album", where, Mapping, optional=True)
            album = (
                self.get(album_obj, "name", f"{where}.album", str, optional=True)
                if album_obj is not None
                else None
            ) or None
        else:
            raise self.fail(f"{where}.type", f"is {kind!r}, expected 'track' or 'episode'")
        track_id = self.get(obj, "id", where, str, optional=is_local)
        if is_local or not track_id:
            track_id = "local:" + hashlib.sha256(uri.encode()).hexdigest()[:22]
        return TrackRec(
            id=track_id,
            uri=uri,
            kind=kind,
            name=name,
            artists=artists,
            album=album,
            duration_ms=duration,
            is_local=is_local,
            spotify_url=None if is_local else self._url(obj, where),
        )

    def entry(self, value: Any, where: str) -> EntryRec:
        obj = self.obj(value, where)
        item = obj.get("item") if "item" in obj else self.get(obj, "item", where, Mapping)
        added_by = self.get(obj, "added_by", where, Mapping, optional=True) or {}
        return EntryRec(
            track=None if item is None else self.track(item, f"{where}.item"),
            added_at=self.time(obj, "added_at", where, optional=True),
            added_by=self.get(added_by, "id", f"{where}.added_by", str, optional=True),
        )

    def saved_track(self, value: Any, where: str) -> SavedRec:
        obj = self.obj(value, where)
        added = self.time(obj, "added_at", where)
        if added is None:  # self.time raises Malformed for a missing added_at first
            raise Malformed(f"{where}.added_at is missing")
        return SavedRec(self.track(self.get(obj, "track", where, Mapping), f"{where}.track"), added)

    def saved_album(self, value: Any, where: str) -> AlbumRec:
        obj = self.obj(value, where)
        album = self.obj(self.get(obj, "album", where, Mapping), f"{where}.album")
        w = f"{where}.album"
        raw_artists = self.get(album, "artists", w, list)
        return AlbumRec(
            id=self.get(album, "id", w, str),
            name=self.get(album, "name", w, str),
            artists=tuple(
                self.get(self.obj(a, f"{w}.artists[{i}]"), "name", f"{w}.artists[{i}]", str)
                for i, a in enumerate(raw_artists)
            ),
            release_date=self.get(album, "release_date", w, str, optional=True),
            spotify_url=self._url(album, w),
            added_at=self.time(obj, "added_at", where),
        )

    def artist(self, value: Any, where: str) -> ArtistRec:
        obj = self.obj(value, where)
        return ArtistRec(
            id=self.get(obj, "id", where, str),
            name=self.get(obj, "name", where, str),
            spotify_url=self._url(obj, where),
        )

    def _url(self, obj: Mapping[str, Any], where: str) -> str | None:
        urls = self.get(obj, "external_urls", where, Mapping, optional=True) or {}
        value = urls.get("spotify")
        return value if isinstance(value, str) else None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, Mapping) else type(value).__name__


def _name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "a boolean", list: "a list"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    if kind is Mapping:
        return "an object"
    return names.get(kind, kind.__name__)
