"""The vault's schema comes from the plugin's own migration, and its downgrade removes exactly
the vault's tables (the kernel's round-trip test re-applies it)."""

from __future__ import annotations

import sqlite3

from flask import Flask
from library_support import Owner, in_app, sync

from support.spotify_webapi import SpotifyWebAPI

TABLES = {
    "library_run",
    "library_track",
    "library_playlist",
    "library_entry",
    "library_liked",
    "library_album",
    "library_artist",
    "library_change",
    "library_list",
}


def _tables(path: str) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows}


def test_downgrade_drops_the_vault_and_upgrade_brings_it_back(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI
) -> None:
    from soulspot import api

    sync(app)
    store = in_app(app, api.storage)
    path = str(store.path)
    assert _tables(path) >= TABLES
    assert store.schema_versions()["library"] == 1
    with store.connection():
        rolled = store.downgrade("library", 0)
    assert [str(s) for s in rolled] == [
        "library <- 0: library vault: runs, tracks, playlists, history, change feed"
    ]
    left = _tables(path)
    assert not (TABLES & left) and "spotify_tokens" in left
    with store.connection():
        store.upgrade()
    assert _tables(path) >= TABLES
    outcome = sync(app)
    assert outcome.status == "ok" and outcome.changes > 0  # an empty vault, filled again
    assert in_app(app, lambda: len(api.library().liked())) == len(webapi.library("alice").liked)
