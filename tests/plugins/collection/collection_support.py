"""Helpers for the collection plugin's tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.collection_corpus import CorpusTrack

from soulspot import hookimpl
from soulspot.types import PluginManifest
from soulspot.vault import LikedTrack, PlaylistEntry, VaultPlaylist, VaultTrack

ONLY = ["sqlite", "collection"]
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def vault_track(track: CorpusTrack) -> VaultTrack:
    return VaultTrack(
        id=track.id,
        uri=f"spotify:track:{track.id}",
        name=track.name,
        artists=track.artists,
        album=track.album,
        duration_ms=track.duration_ms,
        is_local=False,
        spotify_url=f"https://open.spotify.com/track/{track.id}",
    )


@dataclass
class ListVault:
    """A vault over fixed lists (the ``LibraryVault`` contract), for tests that exercise
    the collection plugin alone."""

    known: dict[str, VaultTrack] = field(default_factory=dict)
    lists: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # id -> (name, ids)
    liked_ids: list[str] = field(default_factory=list)

    def tracks(self, ids: Iterable[str] | None = None) -> Iterator[VaultTrack]:
        if ids is None:
            yield from self.known.values()
            return
        for track_id in ids:
            if track_id in self.known:
                yield self.known[track_id]

    def playlists(self, *, include_removed: bool = False) -> list[VaultPlaylist]:
        return [
            VaultPlaylist(pid, name, "alice", "snap", len(ids), True, False)
            for pid, (name, ids) in sorted(self.lists.items(), key=lambda kv: kv[1][0])
        ]

    def playlist_entries(self, playlist_id: str) -> list[PlaylistEntry]:
        _name, ids = self.lists.get(playlist_id, ("", []))
        return [PlaylistEntry(n, self.known.get(t), EPOCH) for n, t in enumerate(ids)]

    def liked(self) -> list[LikedTrack]:
        return [LikedTrack(self.known[t], EPOCH) for t in self.liked_ids]


class VaultPlugin:
    """Provides the ``library`` concern from a :class:`ListVault`."""

    def __init__(self, vault: ListVault) -> None:
        self.vault = vault

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(provides=("library",), description="test vault")

    @hookimpl
    def library_vault(self, app: Any) -> ListVault:
        return self.vault


def vault_of(tracks: Iterable[CorpusTrack], playlists: int = 2) -> ListVault:
    vault = ListVault()
    ids = []
    for track in tracks:
        vault.known[track.id] = vault_track(track)
        ids.append(track.id)
    vault.liked_ids = ids[::2]
    for n in range(playlists):
        vault.lists[f"pl{n}"] = (f"Playlist {n}", ids[n::3])
    return vault


def config(music: Path, **extra: Any) -> dict[str, Any]:
    return {"plugins": {"collection": {"music_dirs": [str(music)], **extra}}}
