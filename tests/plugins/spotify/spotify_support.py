"""Helpers for the spotify plugin's tests: a browser that signs in through the local OAuth
provider, audit and database look-ups."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

BASE = "http://127.0.0.1:8765"
REDIRECT_URI = BASE + "/auth/callback"


#: Generous limits: these tests make many /auth requests from one address.
TEST_CONFIG: dict[str, Any] = {"plugins": {"security": {"rate_limit_auth": "1000/minute"}}}


class Browser:
    """A Flask test client that talks to the app as ``http://127.0.0.1:8765`` (the origin of
    the default redirect URI), sends same-origin ``Origin`` headers on POSTs like a browser,
    and follows the provider hop of a sign-in over real HTTP."""

    def __init__(self, app: Flask, base: str = BASE, remote_addr: str = "127.0.0.1") -> None:
        self.app = app
        self.base = base
        self.client: FlaskClient = app.test_client()
        self.client.environ_base.update(
            {"REMOTE_ADDR": remote_addr, "HTTP_USER_AGENT": "TestBrowser/1.0"}
        )

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, base_url=self.base, **kwargs)

    def post(self, path: str, data: Mapping[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        headers = {"Origin": self.base, **kwargs.pop("headers", {})}
        return self.client.post(
            path, base_url=self.base, data=data or {}, headers=headers, **kwargs
        )

    def cookie(self, name: str = "soulspot_session") -> str | None:
        item = self.client.get_cookie(name, domain=urlsplit(self.base).hostname or "")
        return item.value if item is not None else None

    def set_cookie(self, value: str, name: str = "soulspot_session") -> None:
        self.client.set_cookie(name, value, domain=urlsplit(self.base).hostname or "")

    def start_sign_in(self, next_url: str = "/") -> str:
        """``/auth/login`` -> the provider's authorize URL."""
        resp = self.get(f"/auth/login?next={next_url}")
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return resp.headers["Location"]

    def authorize(self, authorize_url: str) -> str:
        """The provider answers the authorize request: the callback URL (path + query)."""
        resp = requests.get(authorize_url, allow_redirects=False, timeout=10)
        assert resp.status_code == 302, resp.text
        location = resp.headers["Location"]
        assert location.startswith(self.base + "/auth/callback"), location
        return location[len(self.base) :]

    def sign_in(self, next_url: str = "/") -> TestResponse:
        return self.get(self.authorize(self.start_sign_in(next_url)))

    def csrf_token(self, path: str = "/auth/sessions") -> str:
        page = self.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page
        return match.group(1)


def audit_events(app: Flask, event: str) -> list[Any]:
    from soulspot import api

    with app.app_context(), api.storage().connection():
        return api.storage().audit.query(event=event, limit=100)


def in_app(app: Flask, func: Callable[[], Any]) -> Any:
    """Run ``func`` in an app context with a store connection (like a job)."""
    from soulspot import api

    with app.app_context(), api.storage().connection():
        return func()


def db_files(app: Flask) -> bytes:
    """The raw bytes of the database file and its WAL."""
    from soulspot import api

    path = in_app(app, lambda: api.storage().path)
    assert path is not None
    blob = b""
    for suffix in ("", "-wal", "-shm"):
        candidate = Path(str(path) + suffix)
        if candidate.exists():
            blob += candidate.read_bytes()
    return blob
