"""A strict stand-in of the Spotify Web API as a Development-Mode app sees it in 2026.

Served under ``/v1/...`` by the same real HTTP server as :class:`LocalOAuthProvider`
(``oauth_provider.py``), it validates that provider's bearer tokens and their scopes and serves
each user's :class:`LibraryState`. The rules it enforces (issue 13 section 2, DESIGN.md §4):

- ``limit`` above 50 (or below 1) is a 400 ``Invalid limit``; paging by ``offset`` with
  absolute ``next``/``previous`` URLs, or by cursor (``after``) for followed artists;
- ``/playlists/{id}/items`` answers 403 for a playlist the user neither owns nor collaborates
  on (its metadata stays readable); ``/playlists/{id}/tracks``, the batch ``/tracks``,
  ``/albums``, ``/artists`` and the other endpoints removed for such apps answer 403;
- a missing scope is a 403 ``Insufficient client scope``; an unknown or expired token a 401.

Tests script the outside world with faults (``fail``, ``rate_limit``, ``malform``,
``expire_tokens_now``), a per-call ``latency``, an optional rolling 30 s request budget
(``rolling_limit``), and read what the client did in ``requests``.
"""

from __future__ import annotations

import fnmatch
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Response, request

from .webapi_fields import select_fields
from .webapi_generate import generate_library
from .webapi_library import API, Album, Artist, Entry, Episode, LibraryState, Playlist, Track, iso
from .webapi_paging import ApiError, cursor_page, page

if TYPE_CHECKING:
    from .oauth_provider import LocalOAuthProvider

__all__ = [
    "Album",
    "Artist",
    "Episode",
    "LibraryState",
    "Playlist",
    "RecordedRequest",
    "SpotifyWebAPI",
    "Track",
    "generate_library",
]

SCOPE_PRIVATE = "playlist-read-private"
SCOPE_COLLABORATIVE = "playlist-read-collaborative"
SCOPE_LIBRARY = "user-library-read"
SCOPE_FOLLOW = "user-follow-read"
LIBRARY_SCOPES = (SCOPE_PRIVATE, SCOPE_COLLABORATIVE, SCOPE_LIBRARY, SCOPE_FOLLOW)

#: Endpoints Spotify removed for Development-Mode apps: they answer 403.
GONE = (
    "/v1/playlists/*/tracks",
    "/v1/tracks",
    "/v1/albums",
    "/v1/artists",
    "/v1/audio-features*",
    "/v1/audio-analysis*",
    "/v1/recommendations*",
    "/v1/artists/*/top-tracks",
    "/v1/artists/*/related-artists",
)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    user: str | None = None
    at: float = 0.0


@dataclass
class _Fault:
    glob: str
    times: int
    status: int = 500
    headers: dict[str, str] | None = None
    body: Any = None
    mutate: Callable[[Any], Any] | None = None
    after: int = 0  # matching calls to let through first

    def matches(self, path: str, full: str) -> bool:
        return self.times > 0 and fnmatch.fnmatchcase(full if "?" in self.glob else path, self.glob)


def _take(faults: list[_Fault], path: str, full: str) -> _Fault | None:
    """The first fault due for this call (counting down ``after`` and ``times``)."""
    for fault in faults:
        if not fault.matches(path, full):
            continue
        if fault.after > 0:
            fault.after -= 1
            continue
        fault.times -= 1
        return fault
    return None


class SpotifyWebAPI:
    """The Web API of one :class:`LocalOAuthProvider`; ``attach`` it before use."""

    def __init__(self, provider: LocalOAuthProvider) -> None:
        self.provider = provider
        self.lock = threading.RLock()
        self.libraries: dict[str, LibraryState] = {}
        #: Seconds every call takes before it is answered.
        self.latency = 0.0
        #: Requests allowed per ``window_seconds`` (Spotify's rolling window); ``None``: any.
        self.rolling_limit: int | None = None
        self.window_seconds = 30.0
        self.requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._malforms: list[_Fault] = []
        self._window: deque[float] = deque()
        self._expire_after: int | None = None
        #: Called with each :class:`RecordedRequest` after it is answered (e.g. to kill a
        #: sync mid-run at an exact call).
        self.on_request: Callable[[RecordedRequest], None] | None = None

    @classmethod
    def attach(cls, provider: LocalOAuthProvider) -> SpotifyWebAPI:
        api = cls(provider)
        provider.web_api = api
        return api

    # --- libraries -----------------------------------------------------------------------
    def library(self, user_id: str) -> LibraryState:
        with self.lock:
            if user_id not in self.libraries:
                self.libraries[user_id] = LibraryState(
                    user_id, self.provider.users.get(user_id, user_id)
                )
            return self.libraries[user_id]

    def set_library(self, user_id: str, library: LibraryState) -> None:
        with self.lock:
            self.libraries[user_id] = library

    # --- faults --------------------------------------------------------------------------
    def fail(
        self,
        path_glob: str,
        status: int = 500,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
        after: int = 0,
    ) -> None:
        """The next ``times`` calls whose path matches ``path_glob`` (a glob; with a ``?`` it
        matches path and query) answer ``status``, once ``after`` matching calls went through."""
        with self.lock:
            self._faults.append(_Fault(path_glob, times, status, headers, body, after=after))

    def rate_limit(
        self,
        path_glob: str = "*",
        times: int = 1,
        retry_after: int | None = 2,
        after: int = 0,
    ) -> None:
        """429 for the next ``times`` matching calls; ``retry_after=None``: no header."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        body = {"error": {"status": 429, "message": "API rate limit exceeded"}}
        self.fail(path_glob, 429, times, headers, body, after)

    def malform(
        self, path_glob: str, mutate: Callable[[Any], Any], times: int = 1, after: int = 0
    ) -> None:
        """The next ``times`` successful matching answers (after ``after`` of them) pass
        through ``mutate(json)`` (it gets a copy; what it returns is sent)."""
        with self.lock:
            self._malforms.append(_Fault(path_glob, times, mutate=mutate, after=after))

    def expire_tokens_after(self, calls: int) -> None:
        """Expire every access token once ``calls`` more calls were answered (a 401 mid-run)."""
        with self.lock:
            self._expire_after = calls

    def clear_faults(self) -> None:
        """Forget every fault not used up yet."""
        with self.lock:
            self._faults.clear()
            self._malforms.clear()

    def expire_tokens_now(self) -> None:
        """Every access token issued so far is expired: its next call gets 401."""
        self.provider.expire_access_tokens()

    def reset_log(self) -> None:
        with self.lock:
            self.requests.clear()

    def count(self, path_glob: str = "*", status: int | None = None) -> int:
        """How many logged requests match ``path_glob`` (and ``status``)."""
        with self.lock:
            return sum(
                1
                for r in self.requests
                if fnmatch.fnmatchcase(r.path, path_glob) and (status is None or r.status == status)
            )

    # --- serving -------------------------------------------------------------------------
    def handle(self) -> Response:
        """Answer the current Flask request (the provider routes every ``/v1/`` call here)."""
        if self.latency:
            time.sleep(self.latency)
        path = request.path.rstrip("/") or "/"
        query = {k: v for k, v in request.args.items()}
        full = path + ("?" + urlencode(query) if query else "")
        user: str | None = None
        try:
            self._take_fault(path, full)
            self._take_window()
            user, scopes = self._authenticate()
            payload = self._route(path, query, user, scopes)
            payload = self._take_malform(path, full, payload)
            text = json.dumps(payload).replace(API, self.provider.url + "/v1")
            response = Response(text, status=200, mimetype="application/json")
        except ApiError as error:
            body = {"error": {"status": error.status, "message": error.message}}
            response = Response(
                json.dumps(body),
                status=error.status,
                headers=error.headers,
                mimetype="application/json",
            )
        except _Canned as canned:
            response = canned.response
        record = RecordedRequest(
            request.method, path, query, response.status_code, user, time.time()
        )
        with self.lock:
            self.requests.append(record)
            expire = self._expire_after is not None and self._expire_after <= 1
            if self._expire_after is not None:
                self._expire_after = None if expire else self._expire_after - 1
        if expire:
            self.expire_tokens_now()
        if self.on_request is not None:
            self.on_request(record)
        return response

    def _take_fault(self, path: str, full: str) -> None:
        with self.lock:
            fault = _take(self._faults, path, full)
            if fault is None:
                return
        body = fault.body
        if body is None:
            body = {"error": {"status": fault.status, "message": "Service unavailable"}}
        text = body if isinstance(body, str) else json.dumps(body)
        raise _Canned(
            Response(
                text, status=fault.status, headers=fault.headers or {}, mimetype="application/json"
            )
        )

    def _take_window(self) -> None:
        if self.rolling_limit is None:
            return
        now = time.monotonic()
        with self.lock:
            while self._window and self._window[0] <= now - self.window_seconds:
                self._window.popleft()
            if len(self._window) >= self.rolling_limit:
                wait = math.ceil(self._window[0] + self.window_seconds - now)
                raise ApiError(429, "API rate limit exceeded", {"Retry-After": str(max(1, wait))})
            self._window.append(now)

    def _take_malform(self, path: str, full: str, payload: Any) -> Any:
        with self.lock:
            fault = _take(self._malforms, path, full)
            if fault is None or fault.mutate is None:
                return payload
        return fault.mutate(json.loads(json.dumps(payload)))

    def _authenticate(self) -> tuple[str, frozenset[str]]:
        header = request.headers.get("Authorization", "")
        if not header:
            raise ApiError(401, "No token provided")
        kind, _, token_string = header.partition(" ")
        if kind.lower() != "bearer" or not token_string:
            raise ApiError(400, "Only valid bearer authentication supported")
        with self.provider.lock:
            token = self.provider.by_access.get(token_string)
        if token is None or token.is_revoked():
            raise ApiError(401, "Invalid access token")
        if token.is_expired():
            raise ApiError(401, "The access token expired")
        return token.user_id, frozenset(token.scope.split())

    def _route(self, path: str, query: dict[str, str], user: str, scopes: frozenset[str]) -> Any:
        if request.method != "GET":
            raise ApiError(405, "Method not allowed")
        if any(fnmatch.fnmatchcase(path, gone) for gone in GONE):
            raise ApiError(403, "Forbidden")
        library = self.library(user)
        parts = path.split("/")[2:]  # after "/v1"
        with library.lock:
            if parts == ["me"]:
                return self._me(user)
            if parts == ["me", "playlists"]:
                need(scopes, SCOPE_PRIVATE)
                shown = [
                    p
                    for p in library.playlists
                    if not p.collaborative or SCOPE_COLLABORATIVE in scopes
                ]
                return page(path, query, shown, Playlist.render)
            if len(parts) in (2, 3) and parts[0] == "playlists":
                playlist = self._playlist(library, parts[1], scopes)
                if len(parts) == 2:
                    return _select(playlist.render(), query.get("fields"))
                if parts[2] != "items":
                    raise ApiError(404, "Service not found")
                if not library.readable(playlist):
                    raise ApiError(403, "Forbidden")
                result = page(path, query, playlist.entries, Entry.render)
                return _select(result, query.get("fields"))
            if parts == ["me", "tracks"]:
                need(scopes, SCOPE_LIBRARY)
                return page(path, query, library.liked, _saved_track)
            if parts == ["me", "albums"]:
                need(scopes, SCOPE_LIBRARY)
                return page(path, query, library.albums, _saved_album)
            if parts == ["me", "following"]:
                if query.get("type") != "artist":
                    raise ApiError(400, "type must be artist")
                need(scopes, SCOPE_FOLLOW)
                artists = sorted(library.artists.values(), key=lambda a: a.id)
                return cursor_page(path, query, artists, _artist_id, Artist.full)
        raise ApiError(404, "Service not found")

    def _me(self, user: str) -> dict[str, Any]:
        name = self.provider.users.get(user, user)
        return {
            "display_name": name,
            "external_urls": {"spotify": f"https://open.spotify.com/user/{user}"},
            "href": f"{API}/users/{user}",
            "id": user,
            "images": [],
            "type": "user",
            "uri": f"spotify:user:{user}",
        }

    def _playlist(
        self, library: LibraryState, playlist_id: str, scopes: frozenset[str]
    ) -> Playlist:
        try:
            playlist = library.playlist(playlist_id)
        except KeyError:
            raise ApiError(404, "Resource not found") from None
        if playlist.collaborative:
            need(scopes, SCOPE_COLLABORATIVE)
        elif not playlist.public:
            need(scopes, SCOPE_PRIVATE)
        return playlist


class _Canned(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _saved_track(pair: tuple[Track, datetime]) -> dict[str, Any]:
    return {"added_at": iso(pair[1]), "track": pair[0].render()}


def _saved_album(pair: tuple[Album, datetime]) -> dict[str, Any]:
    return {"added_at": iso(pair[1]), "album": pair[0].simple()}


def _artist_id(artist: Artist) -> str:
    return artist.id


def _select(value: Any, fields: str | None) -> Any:
    try:
        return select_fields(value, fields)
    except ValueError as error:
        raise ApiError(400, f"Invalid fields: {error}") from None


def need(scopes: frozenset[str], scope: str) -> None:
    if scope not in scopes:
        raise ApiError(403, "Insufficient client scope")
