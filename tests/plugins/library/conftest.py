"""Fixtures of the library plugin: the OAuth provider with the Web API stand-in attached, a
small generated library, an app signed in as its owner."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from flask import Flask
from library_support import REDIRECT_URI, TEST_CONFIG, Owner

from soulspot.testing import deep_merge
from support.oauth_provider import LocalOAuthProvider
from support.spotify_webapi import SpotifyWebAPI, generate_library


@pytest.fixture
def provider() -> Iterator[LocalOAuthProvider]:
    with LocalOAuthProvider(redirect_uris=[REDIRECT_URI]) as p:
        yield p


@pytest.fixture
def webapi(provider: LocalOAuthProvider) -> SpotifyWebAPI:
    web = SpotifyWebAPI.attach(provider)
    web.set_library(
        "alice",
        generate_library(
            seed=5,
            playlists=6,
            items=(0, 70),
            liked=120,
            albums=8,
            artists=60,
            foreign_playlists=1,
            collaborative_playlists=1,
        ),
    )
    return web


@pytest.fixture
def library_app(
    make_app: Callable[..., Flask], provider: LocalOAuthProvider
) -> Callable[..., Flask]:
    def factory(config: Mapping[str, Any] | None = None, **kwargs: Any) -> Flask:
        merged = deep_merge(TEST_CONFIG, {"plugins": {"spotify": provider.client_config()}})
        merged = deep_merge(merged, dict(config or {}))
        return make_app(merged, **kwargs)

    return factory


@pytest.fixture
def app(library_app: Callable[..., Flask], webapi: SpotifyWebAPI) -> Flask:
    return library_app()


@pytest.fixture
def owner(app: Flask) -> Owner:
    person = Owner(app)
    person.sign_in()
    return person
