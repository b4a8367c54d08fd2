"""Helpers of the library plugin's tests: an app signed in through the local OAuth provider
whose server also serves the Spotify Web API stand-in, and ways to sync and look."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from flask import Flask
from flask.testing import FlaskClient

BASE = "http://127.0.0.1:8765"
REDIRECT_URI = BASE + "/auth/callback"
#: Fast retries; generous auth limits (tests sign in often from one address).
TEST_CONFIG: dict[str, Any] = {
    "plugins": {
        "security": {"rate_limit_auth": "1000/minute"},
        "library": {"retry_backoff_seconds": 0.01, "max_retry_wait_seconds": 5},
    }
}


class Owner:
    """A browser (Flask test client) of the owner, as ``http://127.0.0.1:8765``."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.client.environ_base.update({"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": "Test"})

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, base_url=BASE, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.post(
            path, base_url=BASE, data=data or {}, headers={"Origin": BASE}, **kwargs
        )

    def sign_in(self) -> None:
        resp = self.get("/auth/login?next=/library")
        assert resp.status_code == 302, resp.get_data(as_text=True)
        answer = requests.get(resp.headers["Location"], allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        callback = answer.headers["Location"][len(BASE) :]
        done = self.get(callback)
        assert done.status_code == 302, done.get_data(as_text=True)

    def csrf(self, path: str = "/library") -> str:
        import re

        page = self.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page
        return match.group(1)


def in_app(app: Flask, func: Callable[[], Any]) -> Any:
    from soulspot import api

    with app.app_context(), api.storage().connection():
        return func()


def sync(app: Flask, **kwargs: Any) -> Any:
    """One sync run in process, as the CLI runs it (no sleeping: waits are recorded)."""
    from soulspot_library.runner import sync as run_sync

    slept: list[float] = []
    kwargs.setdefault("sleep", slept.append)
    outcome = in_app(app, lambda: run_sync(**kwargs))
    outcome.slept = slept
    return outcome


def vault(app: Flask) -> Any:
    from soulspot import api

    return api.library()
