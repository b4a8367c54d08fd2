"""Sync against the Web API stand-in: a first full read costs the minimum of requests, an
unchanged library costs one page per list, and every change lands in the vault's history."""

from __future__ import annotations

from flask import Flask
from library_support import Owner, in_app, sync, vault

from support.spotify_webapi import SpotifyWebAPI


def test_first_sync_reads_everything_at_the_minimum_cost(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    lib = webapi.library("alice")
    webapi.reset_log()
    outcome = sync(app)
    assert outcome.status == "ok", outcome.message
    assert outcome.requests == lib.minimum_requests()
    assert webapi.count(status=200) == outcome.requests
    assert webapi.count("/v1/playlists/*/tracks") == 0
    v = in_app(app, lambda: vault(app))
    playlists = in_app(app, v.playlists)
    assert {p.id for p in playlists} == {p.id for p in lib.playlists}
    foreign = [p for p in playlists if p.owner_id != "alice" and not p.readable]
    assert len(foreign) == 1
    liked = in_app(app, v.liked)
    assert [(t.track.id, int(t.added_at.timestamp())) for t in liked] == [
        (t.id, int(at.timestamp())) for t, at in lib.liked
    ]
    for p in lib.playlists:
        if lib.readable(p):
            got = in_app(app, lambda p=p: v.playlist_entries(p.id))
            assert [e.track.uri if e.track else None for e in got] == [
                e.item.uri if e.item else None for e in p.entries
            ]


def test_an_unchanged_library_costs_one_page_per_list(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    sync(app)
    webapi.reset_log()
    outcome = sync(app)
    assert outcome.status == "ok" and outcome.changes == 0
    assert outcome.requests == 4  # playlists (6 < 50), liked, albums, artists: one page each
    assert webapi.count("/v1/playlists/*") == 0
