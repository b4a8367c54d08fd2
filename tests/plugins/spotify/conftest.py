"""Fixtures for the spotify plugin: a local OAuth provider, apps wired to it, a browser."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from spotify_support import REDIRECT_URI, TEST_CONFIG, Browser

from soulspot.testing import deep_merge
from support.oauth_provider import LocalOAuthProvider


@pytest.fixture
def provider() -> Iterator[LocalOAuthProvider]:
    with LocalOAuthProvider(redirect_uris=[REDIRECT_URI]) as p:
        yield p


@pytest.fixture
def spotify_app(
    make_app: Callable[..., Flask], provider: LocalOAuthProvider
) -> Callable[..., Flask]:
    """``spotify_app(spotify={...}, config={...}, data_dir=...)``: an app signed in through
    ``provider``."""

    def factory(
        spotify: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        data_dir: Path | None = None,
        **kwargs: Any,
    ) -> Flask:
        merged = deep_merge(TEST_CONFIG, {"plugins": {"spotify": provider.client_config()}})
        merged = deep_merge(merged, {"plugins": {"spotify": dict(spotify or {})}})
        merged = deep_merge(merged, dict(config or {}))
        return make_app(merged, data_dir=data_dir, **kwargs)

    return factory


@pytest.fixture
def app(spotify_app: Callable[..., Flask]) -> Flask:
    return spotify_app()


@pytest.fixture
def browser(app: Flask) -> Browser:
    return Browser(app)
