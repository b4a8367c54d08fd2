"""The ``library`` concern's contract (kernel/soulspot/vault.py): a plugin provides the vault
through ``library_vault``, others read it with ``soulspot.api.library()`` and hear about syncs
through ``library_synced``; two providers are refused like any exclusive concern."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

import pytest
from flask import Flask
from kernel_support import BUILTINS

from soulspot import api, hookimpl
from soulspot.plugins import PluginError
from soulspot.types import PluginManifest
from soulspot.vault import (
    LibraryVault,
    LikedTrack,
    PlaylistEntry,
    SyncChanges,
    VaultPlaylist,
    VaultTrack,
)

OFF = list(BUILTINS)
TRACK = VaultTrack(
    id="t1",
    uri="spotify:track:t1",
    name="Song",
    artists=("Band",),
    album="Album",
    duration_ms=1000,
    is_local=False,
    spotify_url="https://open.spotify.com/track/t1",
)
WHEN = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)


class TinyVault:
    def tracks(self, ids: Iterable[str] | None = None) -> Iterator[VaultTrack]:
        wanted = None if ids is None else set(ids)
        return iter([TRACK] if wanted is None or TRACK.id in wanted else [])

    def playlists(self, *, include_removed: bool = False) -> list[VaultPlaylist]:
        return [VaultPlaylist("p1", "Mix", "alice", "s1", 1, True, False)]

    def playlist_entries(self, playlist_id: str) -> list[PlaylistEntry]:
        return [PlaylistEntry(0, TRACK, WHEN)] if playlist_id == "p1" else []

    def liked(self) -> list[LikedTrack]:
        return [LikedTrack(TRACK, WHEN)]


class Provider:
    def __init__(self) -> None:
        self.vault = TinyVault()

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(provides=("library",))

    @hookimpl
    def library_vault(self, app: Flask) -> LibraryVault:
        return self.vault


class Listener:
    def __init__(self) -> None:
        self.heard: list[SyncChanges] = []

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(requires=("library",))

    @hookimpl
    def library_synced(self, app: Flask, changes: SyncChanges) -> None:
        self.heard.append(changes)


def test_a_plugin_reads_the_vault_and_hears_of_syncs(make_app):
    listener = Listener()
    app = make_app(plugins=[("vault", Provider()), ("listener", listener)], disable=OFF)
    with app.app_context():
        vault = api.library()
        assert isinstance(vault, LibraryVault)
        assert [t.name for t in vault.tracks(["t1", "nope"])] == ["Song"]
        assert vault.playlist_entries("p1")[0].track == TRACK
        assert vault.liked()[0].added_at == WHEN
        changes = SyncChanges("run1", WHEN, frozenset({"t1"}), frozenset({"p1"}), True)
        api.hook(app).library_synced(app=app, changes=changes)
    assert listener.heard == [changes]


def test_without_a_library_plugin_the_accessor_says_so(make_app):
    app = make_app(disable=OFF)
    with app.app_context(), pytest.raises(RuntimeError, match="no library plugin"):
        api.library()


def test_library_is_an_exclusive_concern(make_app):
    with pytest.raises(PluginError, match="concern 'library' is exclusive"):
        make_app(plugins=[("one", Provider()), ("two", Provider())], disable=OFF)
