"""The per-user library the Spotify Web API stand-in serves, and the mutations tests make.

One :class:`LibraryState` per user: playlists (in the user's library order, newest first),
liked songs and saved albums (newest first, with Spotify's ``added_at``), followed artists.
Every mutation changes what the API answers next, and a playlist mutation gives the playlist
a new ``snapshot_id`` as Spotify does (items *and* details are versioned by it).
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from .webapi_objects import (
    API,
    Album,
    Artist,
    Entry,
    Episode,
    Item,
    Playlist,
    Track,
    iso,
    spotify_id,
)

__all__ = [
    "API",
    "Album",
    "Artist",
    "Entry",
    "Episode",
    "Item",
    "LibraryState",
    "Playlist",
    "Track",
    "iso",
    "spotify_id",
]


class LibraryState:
    """One user's library: what the stand-in serves, changed by the mutation methods.

    Thread-safe: the server reads it on its request threads while a test mutates it.
    ``clock`` (when set) is the time mutations stamp as ``added_at``; otherwise now.
    """

    def __init__(self, owner_id: str = "alice", owner_name: str | None = None) -> None:
        self.owner_id = owner_id
        self.owner_name = owner_name or owner_id.capitalize()
        self.lock = threading.RLock()
        self.playlists: list[Playlist] = []  # the user's library order, newest first
        self.liked: list[tuple[Track, datetime]] = []  # newest first
        self.albums: list[tuple[Album, datetime]] = []  # newest first
        self.artists: dict[str, Artist] = {}
        self.clock: datetime | None = None
        self._random = random.Random(owner_id)
        self._numbers = itertools.count(1)  # ids of made objects: stable per library

    def now(self) -> datetime:
        return self.clock or datetime.now(UTC).replace(microsecond=0)

    # --- making objects ------------------------------------------------------------------
    def make_artist(self, name: str | None = None) -> Artist:
        n = next(self._numbers)
        return Artist(spotify_id(f"{self.owner_id}:artist:{n}"), name or f"Artist {n}")

    def make_album(
        self, name: str | None = None, artists: Sequence[Artist] | None = None, **extra: Any
    ) -> Album:
        n = next(self._numbers)
        return Album(
            spotify_id(f"{self.owner_id}:album:{n}"),
            name or f"Album {n}",
            tuple(artists or (self.make_artist(),)),
            **extra,
        )

    def make_track(
        self,
        name: str | None = None,
        artists: Sequence[Artist | str] | None = None,
        album: Album | str | None = None,
        duration_ms: int | None = None,
        **extra: Any,
    ) -> Track:
        n = next(self._numbers)
        people = tuple(a if isinstance(a, Artist) else self.make_artist(a) for a in artists or ())
        people = people or (self.make_artist(),)
        if not isinstance(album, Album):
            album = self.make_album(album, people[:1])
        duration = duration_ms if duration_ms is not None else self._random.randint(95_000, 420_000)
        return Track(
            spotify_id(f"{self.owner_id}:track:{n}"),
            name or f"Track {n}",
            people,
            album,
            duration,
            **extra,
        )

    def make_local_track(
        self,
        name: str = "Local file",
        artist: str = "Someone",
        album: str = "",
        duration_ms: int = 200_000,
    ) -> Track:
        album_obj = Album("", album, ()) if album else None
        return Track(None, name, (Artist("", artist),), album_obj, duration_ms, is_local=True)

    def make_episode(
        self,
        name: str | None = None,
        show: str = "A Podcast",
        publisher: str = "A Publisher",
        duration_ms: int = 1_800_000,
    ) -> Episode:
        n = next(self._numbers)
        return Episode(
            spotify_id(f"{self.owner_id}:episode:{n}"),
            name or f"Episode {n}",
            show,
            publisher,
            duration_ms,
        )

    # --- playlists -----------------------------------------------------------------------
    def playlist(self, playlist_id: str) -> Playlist:
        with self.lock:
            for playlist in self.playlists:
                if playlist.id == playlist_id:
                    return playlist
        raise KeyError(f"no playlist {playlist_id!r} in {self.owner_id}'s library")

    def create_playlist(
        self,
        name: str,
        description: str = "",
        *,
        owner_id: str | None = None,
        owner_name: str | None = None,
        collaborative: bool = False,
        public: bool = False,
        items: Iterable[Item] = (),
        playlist_id: str | None = None,
    ) -> str:
        """A new playlist at the top of the library (``owner_id`` other than the user's: a
        followed playlist; ``collaborative``: one the user may read and edit)."""
        owner = owner_id or self.owner_id
        pid = playlist_id or spotify_id(f"{self.owner_id}:playlist:{next(self._numbers)}")
        playlist = Playlist(
            pid,
            name,
            owner,
            owner_name or (self.owner_name if owner == self.owner_id else owner),
            description,
            public,
            collaborative,
        )
        playlist.entries = [Entry(item, self.now(), owner) for item in items]
        with self.lock:
            self.playlists.insert(0, playlist)
        return pid

    def _bump(self, playlist: Playlist) -> None:
        playlist.version += 1

    def rename_playlist(self, playlist_id: str, name: str) -> None:
        with self.lock:
            playlist = self.playlist(playlist_id)
            playlist.name = name
            self._bump(playlist)

    def set_description(self, playlist_id: str, text: str) -> None:
        with self.lock:
            playlist = self.playlist(playlist_id)
            playlist.description = text
            self._bump(playlist)

    def delete_playlist(self, playlist_id: str) -> None:
        """Unfollow (for an owner: delete) a playlist; it leaves ``/me/playlists``."""
        with self.lock:
            self.playlists.remove(self.playlist(playlist_id))

    def add_items(
        self,
        playlist_id: str,
        items: Item | Sequence[Item],
        position: int | None = None,
        added_by: str | None = None,
    ) -> None:
        """Add one item (``None``: an entry that is no longer available) or a list of them."""
        batch: Sequence[Item] = (
            list(items) if isinstance(items, list | tuple) else [items]  # type: ignore[list-item]
        )
        with self.lock:
            playlist = self.playlist(playlist_id)
            new = [Entry(item, self.now(), added_by or self.owner_id) for item in batch]
            at = len(playlist.entries) if position is None else position
            playlist.entries[at:at] = new
            self._bump(playlist)

    def remove_item(self, playlist_id: str, position: int) -> None:
        with self.lock:
            playlist = self.playlist(playlist_id)
            del playlist.entries[position]
            self._bump(playlist)

    def move_item(self, playlist_id: str, from_pos: int, to_pos: int) -> None:
        with self.lock:
            playlist = self.playlist(playlist_id)
            entry = playlist.entries.pop(from_pos)
            playlist.entries.insert(to_pos, entry)
            self._bump(playlist)

    def make_unavailable(self, playlist_id: str, position: int) -> None:
        """The track at ``position`` was withdrawn from Spotify: its entry becomes ``null``.
        Spotify does not change the snapshot for this."""
        with self.lock:
            self.playlist(playlist_id).entries[position].item = None

    # --- liked songs, albums, artists ----------------------------------------------------
    def like(self, track: Track, added_at: datetime | None = None) -> None:
        with self.lock:
            if any(t.id == track.id for t, _ in self.liked):
                return  # liking again keeps the first added_at, like Spotify
            self.liked.insert(0, (track, added_at or self.now()))
            self.liked.sort(key=lambda pair: pair[1], reverse=True)

    def unlike(self, track_id: str) -> None:
        with self.lock:
            self.liked = [(t, at) for t, at in self.liked if t.id != track_id]

    def save_album(self, album: Album, added_at: datetime | None = None) -> None:
        with self.lock:
            if any(a.id == album.id for a, _ in self.albums):
                return
            self.albums.insert(0, (album, added_at or self.now()))
            self.albums.sort(key=lambda pair: pair[1], reverse=True)

    def remove_album(self, album_id: str) -> None:
        with self.lock:
            self.albums = [(a, at) for a, at in self.albums if a.id != album_id]

    def follow(self, artist: Artist) -> None:
        with self.lock:
            self.artists[artist.id] = artist

    def unfollow(self, artist_id: str) -> None:
        with self.lock:
            self.artists.pop(artist_id, None)

    # --- what a client would need to read it all ------------------------------------------
    def readable(self, playlist: Playlist) -> bool:
        """Can this user read the playlist's items (owner or collaborative)?"""
        return playlist.owner_id == self.owner_id or playlist.collaborative

    def minimum_requests(self, page: int = 50) -> int:
        """Σ ceil(n/50) over every list a full read needs (playlist list, readable playlists'
        items, liked songs, albums, artists): the fewest requests a full sync can make."""

        def pages(n: int) -> int:
            return max(1, -(-n // page))

        with self.lock:
            total = pages(len(self.playlists))
            # a playlist's count is in the list already: an empty one needs no item request
            total += sum(-(-len(p.entries) // page) for p in self.playlists if self.readable(p))
            total += pages(len(self.liked)) + pages(len(self.albums)) + pages(len(self.artists))
        return total
