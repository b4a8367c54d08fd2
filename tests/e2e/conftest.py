"""Fixtures of the browser tests: one headless chromium per worker, the local OAuth provider,
SoulSpot served on a loopback port and wired to that provider."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_support import launch
from flask import Flask
from playwright.sync_api import Browser, Playwright, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from oauth_provider import LocalOAuthProvider

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch(playwright)
    yield browser
    browser.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """SoulSpot served on ``url`` (waitress, threads, like ``soulspot serve``)."""

    app: Flask
    url: str
    provider: LocalOAuthProvider
    data_dir: Path


@pytest.fixture
def provider() -> Iterator[LocalOAuthProvider]:
    with LocalOAuthProvider(client_id="soulspot-e2e") as prov:
        yield prov


@pytest.fixture
def serve(
    make_app: Callable[..., Flask], provider: LocalOAuthProvider, tmp_path: Path
) -> Iterator[Callable[..., Served]]:
    """``serve(config=None)``: SoulSpot on a free loopback port, signing in through
    ``provider``; stopped after the test (from the server's own loop thread, like
    :class:`soulspot.testing.LiveServer`: closing its sockets from here races its select())."""
    from soulspot.testing import LiveServer

    servers: list[LiveServer] = []

    def start(config: dict[str, Any] | None = None, *, client_id: bool = True) -> Served:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        redirect = f"{url}/auth/callback"
        provider.client.redirect_uris.append(redirect)
        spotify = {**provider.client_config(), "redirect_uri": redirect}
        if not client_id:  # first run: the setup page asks for it
            spotify.pop("client_id")
        cfg: dict[str, Any] = {"kernel": {"port": port}, "plugins": {"spotify": spotify}}
        for section, values in (config or {}).items():
            cfg.setdefault(section, {}).update(values)
        data_dir = tmp_path / f"data{len(servers)}"
        app = make_app(cfg, data_dir=data_dir)
        servers.append(LiveServer(app, threads=6, port=port).__enter__())
        return Served(app=app, url=url, provider=provider, data_dir=data_dir)

    yield start
    for server in reversed(servers):
        server.__exit__(None, None, None)
