"""Every change is recorded with its run and time, nothing is deleted because Spotify deleted
it, and any playlist (or the liked songs) can be seen as of a past moment and diffed."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from flask import Flask
from library_support import Owner, in_app, sync, vault

from soulspot import hookimpl
from soulspot.types import PluginManifest
from support.spotify_webapi import SpotifyWebAPI


def _feed(app: Flask) -> list[tuple[str, Any, Any, Any, Any]]:
    from soulspot_library.models import Change

    return in_app(
        app,
        lambda: [
            (c.kind, c.subject_id, c.position, c.old_position, c.new_value or c.old_value)
            for c in Change.select().order_by(Change.id)
        ],
    )


def _owned(webapi: SpotifyWebAPI, *, min_items: int = 3) -> Any:
    lib = webapi.library("alice")
    return next(
        p
        for p in lib.playlists
        if p.owner_id == "alice" and not p.collaborative and len(p.entries) >= min_items
    )


def _last_run_changes(app: Flask) -> list[tuple[str, Any, Any, Any, Any]]:
    from soulspot_library.models import Change, Run

    def work() -> list[tuple[str, Any, Any, Any, Any]]:
        run = Run.select().order_by(Run.started_at.desc()).first()
        return [
            (c.kind, c.subject_id, c.position, c.old_position, c.new_value or c.old_value)
            for c in Change.select().where(Change.run_id == run.id).order_by(Change.id)
        ]

    return in_app(app, work)


def test_playlist_changes_are_recorded_with_positions(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    lib = webapi.library("alice")
    sync(app)
    playlist = _owned(webapi)
    first, second = playlist.entries[0].item, playlist.entries[1].item
    assert len({e.item.id for e in playlist.entries[:3] if e.item}) == 3
    lib.rename_playlist(playlist.id, "Renamed")
    lib.set_description(playlist.id, "new words")
    lib.move_item(playlist.id, 0, 2)  # first goes to position 2
    lib.remove_item(playlist.id, 0)  # the old second leaves
    extra = lib.make_track("Fresh")
    lib.add_items(playlist.id, [extra, extra])  # the same track twice, at the end
    outcome = sync(app)
    assert outcome.status == "ok", outcome.message
    changes = _last_run_changes(app)
    end = len(playlist.entries)
    assert ("playlist_renamed", None, None, None, "Renamed") in changes
    assert ("playlist_description", None, None, None, "new words") in changes
    assert ("item_removed", second.id, None, 1, None) in changes
    moves = [c[1:4] for c in changes if c[0] == "item_moved"]
    third = playlist.entries[0].item  # was at position 2 before
    assert moves in ([(first.id, 1, 0)], [(third.id, 0, 2)])  # one move explains it either way
    assert ("item_added", extra.id, end - 2, None, None) in changes
    assert ("item_added", extra.id, end - 1, None, None) in changes
    kinds = [c[0] for c in changes]
    assert (kinds.count("item_added"), kinds.count("item_removed"), kinds.count("item_moved")) == (
        2,
        1,
        1,
    )
    got = in_app(app, lambda: vault(app).playlist_entries(playlist.id))
    assert [e.track.id if e.track else None for e in got] == [
        e.item.id if e.item else None for e in playlist.entries
    ]


def test_a_deleted_playlist_stays_in_the_vault_marked_removed(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    lib = webapi.library("alice")
    sync(app)
    playlist = _owned(webapi)
    before = in_app(app, lambda: vault(app).playlist_entries(playlist.id))
    lib.delete_playlist(playlist.id)
    sync(app)
    current = in_app(app, lambda: [p.id for p in vault(app).playlists()])
    assert playlist.id not in current
    kept = in_app(app, lambda: vault(app).playlists(include_removed=True))
    gone = next(p for p in kept if p.id == playlist.id)
    assert gone.removed
    assert in_app(app, lambda: vault(app).playlist_entries(playlist.id)) == before
    assert ("playlist_removed", None, None, None, playlist.name) in _last_run_changes(app)


def test_a_playlist_removed_and_restored_is_absent_as_of_its_removal(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    """Restoring a playlist wiped ``removed_at``: an as-of export inside the removal still
    listed it. Nothing in the vault may rewrite what was true at a moment."""
    from soulspot_library.export import snapshot
    from soulspot_library.models import Change

    lib = webapi.library("alice")
    sync(app)
    playlist = _owned(webapi)
    lib.delete_playlist(playlist.id)
    sync(app)
    with lib.lock:
        lib.playlists.append(playlist)  # followed again
    sync(app)
    removed_at = in_app(
        app,
        lambda: Change.get(
            (Change.kind == "playlist_removed") & (Change.playlist_id == playlist.id)
        ).at,
    )
    while_gone = in_app(app, lambda: [p["id"] for p in snapshot(removed_at)["playlists"]])
    now = in_app(app, lambda: [p["id"] for p in snapshot(None)["playlists"]])
    assert playlist.id not in while_gone
    assert playlist.id in now


def test_unliking_keeps_history_and_liking_keeps_spotifys_added_at(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    lib = webapi.library("alice")
    sync(app)
    gone_track, _ = lib.liked[5]
    lib.unlike(gone_track.id)
    fresh = lib.make_track("Brand new")
    liked_at = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    lib.like(fresh, added_at=liked_at)
    album, _ = lib.albums[0]
    lib.remove_album(album.id)
    artist = next(iter(lib.artists.values()))
    lib.unfollow(artist.id)
    outcome = sync(app, full=True)
    assert outcome.status == "ok", outcome.message
    changes = _last_run_changes(app)
    assert ("unliked", gone_track.id, None, None, None) in changes
    assert ("liked", fresh.id, None, None, "2026-11-30T12:00:00Z") in changes
    assert ("album_removed", album.id, None, None, album.name) in changes
    assert ("artist_unfollowed", artist.id, None, None, artist.name) in changes
    liked = in_app(app, lambda: vault(app).liked())
    assert liked[0].track.id == fresh.id and liked[0].added_at == liked_at
    assert gone_track.id not in {t.track.id for t in liked}
    # added_at of songs liked long ago is untouched by the re-read
    kept = {t.track.id: t.added_at for t in liked}
    for track, at in lib.liked:
        assert kept[track.id] == at


def test_as_of_views_and_diffs(app: Flask, owner: Owner, webapi: SpotifyWebAPI) -> None:
    from soulspot_library.queries import diff_playlist, entries, liked

    lib = webapi.library("alice")
    sync(app)
    playlist = _owned(webapi)
    old_ids = [e.item.id if e.item else None for e in playlist.entries]
    old_liked = [t.id for t, _ in lib.liked]
    between = time.time()
    time.sleep(0.01)  # the next version is strictly later than `between`
    lib.remove_item(playlist.id, 1)
    newcomer = lib.make_track("Later")
    lib.like(newcomer)
    sync(app)
    as_then = in_app(app, lambda: entries(playlist.id, between))
    assert [e.track.id if e.track else None for e in as_then] == old_ids
    assert in_app(app, lambda: [t.track.id for t in liked(between)]) == old_liked
    assert in_app(app, lambda: liked()[0].track.id) == newcomer.id
    changes = in_app(app, lambda: diff_playlist(playlist.id, between, None))
    assert [(c.kind, c.track_id, c.old_position) for c in changes] == [("removed", old_ids[1], 1)]


class Listener:
    def __init__(self) -> None:
        self.heard: list[Any] = []

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(requires=("library",))

    @hookimpl
    def library_synced(self, app: Flask, changes: Any) -> None:
        self.heard.append(changes)


def test_the_library_synced_hook_hears_what_changed(
    library_app: Any, webapi: SpotifyWebAPI
) -> None:
    listener = Listener()
    app = library_app(plugins=[("listener", listener)])
    Owner(app).sign_in()
    sync(app)
    heard = listener.heard
    assert len(heard) == 1 and heard[0].liked_changed and len(heard[0].track_ids) > 100
    sync(app)
    assert len(heard) == 1  # nothing changed: no call
    playlist = _owned(webapi)
    removed = playlist.entries[0].item
    webapi.library("alice").remove_item(playlist.id, 0)
    sync(app)
    assert heard[-1].playlist_ids == {playlist.id} and not heard[-1].liked_changed
    assert removed.id in heard[-1].track_ids
