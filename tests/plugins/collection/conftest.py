"""Fixtures of the collection plugin's tests that use the real library plugin, synced from
the Spotify Web API stand-in (served by the local OAuth provider's server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from soulspot.testing import deep_merge
from support.oauth_provider import LocalOAuthProvider
from support.spotify_webapi import SpotifyWebAPI, generate_library

BASE = "http://127.0.0.1:8765"
WITH_LIBRARY = ["sqlite", "spotify", "library", "collection"]


@pytest.fixture
def provider() -> Iterator[LocalOAuthProvider]:
    with LocalOAuthProvider(redirect_uris=[BASE + "/auth/callback"]) as p:
        yield p


@pytest.fixture
def webapi(provider: LocalOAuthProvider) -> SpotifyWebAPI:
    web = SpotifyWebAPI.attach(provider)
    web.set_library(
        "alice",
        generate_library(
            seed=16,
            playlists=3,
            items=(5, 25),
            liked=40,
            albums=2,
            artists=20,
            foreign_playlists=0,
            collaborative_playlists=0,
        ),
    )
    return web


class Home:
    """The owner's SoulSpot with the library plugin and a music folder."""

    def __init__(self, app: Flask, music: Path, settings: dict[str, Any]) -> None:
        self.app, self.music, self.settings = app, music, settings
        self.client = app.test_client()
        self.client.environ_base.update({"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": "Test"})

    def sign_in(self) -> None:
        resp = self.client.get("/auth/login?next=/", base_url=BASE)
        answer = requests.get(resp.headers["Location"], allow_redirects=False, timeout=10)
        done = self.client.get(answer.headers["Location"][len(BASE) :], base_url=BASE)
        assert done.status_code == 302, done.get_data(as_text=True)

    def sync(self) -> Any:
        from soulspot import api
        from soulspot_library.runner import sync

        with self.app.app_context(), api.storage().connection():
            return sync(sleep=lambda _s: None)

    def get(self, path: str) -> Any:
        return self.client.get(path, base_url=BASE)

    def post_json(self, path: str, body: Any) -> Any:
        return self.client.post(path, json=body, base_url=BASE, headers={"Origin": BASE})


@pytest.fixture
def home(
    make_app: Callable[..., Flask],
    provider: LocalOAuthProvider,
    webapi: SpotifyWebAPI,
    tmp_path: Path,
) -> Home:
    music = tmp_path / "music"
    music.mkdir()
    settings = {
        "kernel": {"data_dir": str(tmp_path / "data")},
        "plugins": {
            "spotify": provider.client_config(),
            "library": {"retry_backoff_seconds": 0.01, "max_retry_wait_seconds": 5},
            "collection": {"music_dirs": [str(music)]},
        },
    }
    app = make_app(deep_merge({}, settings), only=WITH_LIBRARY, data_dir=tmp_path / "data")
    owner = Home(app, music, settings)
    owner.sign_in()
    return owner
