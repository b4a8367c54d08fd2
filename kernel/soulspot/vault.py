"""The ``library`` concern's contract: a read-only view of the owner's Spotify library vault.

The library plugin keeps a versioned copy of the owner's playlists, liked songs, albums and
followed artists. Other plugins read its *current* state through :class:`LibraryVault`
(returned by the ``library_vault`` hook, reached with :func:`soulspot.api.library`) and hear
about each sync that changed something through the ``library_synced`` hook. They never import
the library plugin, so another vault can be swapped in by implementing this protocol.

Import-light: dataclasses and typing only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class VaultTrack:
    """A track (or episode, or local file) as the vault last saw it.

    ``id`` is Spotify's id, or for a local file (which has none) a stable id the vault
    derives from its URI. ``spotify_url`` is ``None`` for local files."""

    id: str
    uri: str
    name: str
    artists: tuple[str, ...]
    album: str | None
    duration_ms: int | None
    is_local: bool
    spotify_url: str | None


@dataclass(frozen=True)
class VaultPlaylist:
    """A playlist the owner has (or had: ``removed`` once Spotify no longer lists it).

    ``readable`` is ``False`` for playlists whose items Spotify refuses to this app (neither
    owned nor collaborated on): their metadata is kept, their items are unknown."""

    id: str
    name: str
    owner_id: str | None
    snapshot_id: str | None
    item_count: int
    readable: bool
    removed: bool


@dataclass(frozen=True)
class PlaylistEntry:
    """One position in a playlist. ``track`` is ``None`` for an entry Spotify returns as
    unavailable (``null``); the same track can appear at several positions."""

    position: int
    track: VaultTrack | None
    added_at: dt.datetime | None


@dataclass(frozen=True)
class LikedTrack:
    """A liked song with Spotify's own ``added_at`` (never rewritten by a sync)."""

    track: VaultTrack
    added_at: dt.datetime


@dataclass(frozen=True)
class SyncChanges:
    """What one sync run changed (passed to ``library_synced``): the tracks that appeared in
    or left any list, the playlists whose metadata or items changed, and whether the liked
    songs changed."""

    run_id: str
    finished_at: dt.datetime
    track_ids: frozenset[str]
    playlist_ids: frozenset[str]
    liked_changed: bool


@runtime_checkable
class LibraryVault(Protocol):
    """Read-only access to the vault's current state. Works inside an app context."""

    def tracks(self, ids: Iterable[str] | None = None) -> Iterator[VaultTrack]:
        """Tracks by id (unknown ids are skipped), or every track the vault knows when
        ``ids`` is ``None``."""
        ...

    def playlists(self, *, include_removed: bool = False) -> list[VaultPlaylist]:
        """Playlists, by name; removed ones only when asked."""
        ...

    def playlist_entries(self, playlist_id: str) -> list[PlaylistEntry]:
        """The current entries of a playlist, by position (empty when unknown or not
        readable)."""
        ...

    def liked(self) -> list[LikedTrack]:
        """The current liked songs, newest ``added_at`` first."""
        ...
