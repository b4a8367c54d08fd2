"""Per-app state of the spotify plugin (``soulspot.api.state_for("soulspot_spotify")``)
and the small helpers every part shares: effective settings, time, hashing."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

from flask import Flask, g, has_request_context

from soulspot import api

from .config import SpotifyConfig
from .crypto import KeyRing

if TYPE_CHECKING:  # pragma: no cover
    from .sessions import SessionManager
    from .tokens import TokenManager

EXTENSION = "soulspot_spotify"
SETTING_CLIENT_ID = "spotify.client_id"
SETTING_OWNER = "spotify.owner"
CALLBACK_PATH = "/auth/callback"


def now_ts() -> float:
    return time.time()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class Runtime:
    """Everything the plugin keeps per app."""

    #: Set by ``init_app`` right after the runtime is made (they need it to be built).
    sessions: SessionManager
    tokens: TokenManager

    def __init__(self, app: Flask, config: SpotifyConfig) -> None:
        self.config = config
        self.app = app
        self.public_url: str = api.kernel_settings(app).public_url
        self.keyring = KeyRing(api.data_dir(app), [k.get_secret_value() for k in config.token_keys])
        #: One-time token that lets a non-loopback browser use the setup page (``serve``).
        self.setup_token: str | None = None
        self.lock = threading.Lock()

    # --- effective settings ----------------------------------------------------------------

    @property
    def port(self) -> int:
        """The served port: ``soulspot serve --port`` records it in ``[kernel] port``."""
        return int(api.kernel_settings(self.app).port)

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    def client_id(self) -> str:
        """From config, else what the setup page stored; ``""`` when not configured."""
        if self.config.client_id:
            return self.config.client_id
        value = api.storage().settings.get(SETTING_CLIENT_ID, "")
        return value if isinstance(value, str) else ""

    def redirect_uri(self) -> str:
        if self.config.redirect_uri:
            return self.config.redirect_uri
        if self.public_url:
            return self.public_url + CALLBACK_PATH
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    def origin(self) -> str:
        """``scheme://host:port`` of the redirect URI: where sign-in must happen."""
        parts = urlsplit(self.redirect_uri())
        return f"{parts.scheme}://{parts.netloc}"

    def owner(self) -> str:
        """From config, else the account that claimed the instance (read from the store
        every time: no second cache on the sign-in path next to the session store's)."""
        if self.config.owner:
            return self.config.owner
        in_request = has_request_context()
        if in_request and "spotify_owner" in g:  # read once per request, not once per caller
            return cast(str, g.spotify_owner)
        value = api.storage().settings.get(SETTING_OWNER, "")
        value = value if isinstance(value, str) else ""
        if in_request and value:  # unclaimed is read again: the claiming sign-in sees it
            g.spotify_owner = value
        return value

    def is_allowed(self, user_id: str, owner: str | None = None) -> bool:
        owner = self.owner() if owner is None else owner
        return (not owner) or user_id == owner or user_id in self.config.allowed_users

    def api_url(self, path: str) -> str:
        return self.config.api_base_url.rstrip("/") + "/" + path.lstrip("/")


def runtime(app: Flask | None = None) -> Runtime:
    return cast(Runtime, api.state_for(EXTENSION, app))
