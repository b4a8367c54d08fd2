"""Per-app state of the spotify plugin (``app.extensions["soulspot_spotify"]``) and the small
helpers every part shares: effective settings, time, hashing."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

from flask import Flask, current_app

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
#: Seconds a claimed owner read from the database is reused (see :meth:`Runtime.owner`).
OWNER_TTL = 2.0


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

    def __init__(self, app: Flask, config: SpotifyConfig) -> None:
        state = app.extensions["soulspot"]
        self.config = config
        self._kernel_state = state
        self.public_url: str = state.settings.kernel.public_url
        self.keyring = KeyRing(state.data_dir, [k.get_secret_value() for k in config.token_keys])
        #: One-time token that lets a non-loopback browser use the setup page (``serve``).
        self.setup_token: str | None = None
        self.lock = threading.Lock()
        #: ``(owner, valid until)`` of :meth:`owner` (monotonic time).
        self._owner_cache: tuple[str, float] | None = None
        from .sessions import SessionManager
        from .tokens import TokenManager

        self.sessions: SessionManager = SessionManager(self)
        self.tokens: TokenManager = TokenManager(self)

    # --- effective settings ----------------------------------------------------------------

    @property
    def port(self) -> int:
        """The served port: ``soulspot serve --port`` records it in ``[kernel] port``."""
        return int(self._kernel_state.settings.kernel.port)

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
        """From config, else the account that claimed the instance. A claimed owner is kept
        for :data:`OWNER_TTL` seconds (the login gate asks on every request; the owner only
        changes when a sign-in claims an unclaimed instance, or when a restore swaps the
        database). Unclaimed is read every time, so the sign-in that claims it sees it."""
        if self.config.owner:
            return self.config.owner
        cached = self._owner_cache
        now = time.monotonic()
        if cached is not None and now < cached[1]:
            return cached[0]
        value = api.storage().settings.get(SETTING_OWNER, "")
        value = value if isinstance(value, str) else ""
        self._owner_cache = (value, now + OWNER_TTL) if value else None
        return value

    def is_allowed(self, user_id: str) -> bool:
        owner = self.owner()
        return (not owner) or user_id == owner or user_id in self.config.allowed_users

    def api_url(self, path: str) -> str:
        return self.config.api_base_url.rstrip("/") + "/" + path.lstrip("/")


def runtime() -> Runtime:
    return cast(Runtime, current_app.extensions[EXTENSION])
