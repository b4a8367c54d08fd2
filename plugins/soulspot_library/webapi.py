"""Calls to the Web API through the owner's client, with Spotify's rules honoured.

- 429: wait ``Retry-After`` seconds (or ``retry_backoff_seconds`` doubling when it is
  missing) as long as the run's total wait stays within ``max_retry_wait_seconds``; past that
  the run stops with :class:`Paused` ("paused by Spotify until ...").
- 5xx and unreachable: retry ``server_error_retries`` times with doubling backoff, then the
  step fails.
- 403 on a playlist's items: :class:`NotReadable` (a followed playlist), not an error.
- Anything else not 200, or an answer that is not JSON: the step fails, naming the endpoint.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from soulspot import api
from soulspot.auth import OwnerClient, ReauthorizationRequired

from .config import LibraryConfig
from .parse import Malformed

#: Spotify's page size limit; every list is read 50 at a time.
PAGE = 50


class StepFailed(Exception):
    """One step could not be read; nothing of it is recorded."""


class NotReadable(Exception):
    """Spotify refuses this playlist's items to the app (403): keep metadata only."""


class RunStopped(Exception):
    """The whole run stops (the next one carries on)."""


class Paused(RunStopped):
    def __init__(self, until: float) -> None:
        when = dt.datetime.fromtimestamp(until, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        super().__init__(f"paused by Spotify until {when}")
        self.until = until


class ReauthNeeded(RunStopped):
    pass


Observer = Callable[[str, int], None]


class WebAPI:
    """``get(endpoint, path, params)`` -> JSON; ``endpoint`` is a template for metrics and
    messages (``/playlists/{id}/items``)."""

    def __init__(
        self,
        client: OwnerClient,
        config: LibraryConfig,
        *,
        on_response: Observer | None = None,
        on_wait: Callable[[float], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.config = config
        self.on_response = on_response
        self.on_wait = on_wait
        self.sleep = sleep
        self.requests = 0
        self.waited = 0.0

    def get(self, endpoint: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """One page, retries and waits included (a ``library.page`` span with tracing)."""
        with api.span("library.page", **{"soulspot.endpoint": endpoint}):
            return self._fetch(endpoint, path, params)

    def _fetch(self, endpoint: str, path: str, params: Mapping[str, Any] | None) -> Any:
        label = f"GET {endpoint}"
        server_errors = 0
        no_header_waits = 0
        while True:
            try:
                resp = self.client.get(path, params)
            except ReauthorizationRequired as exc:
                raise ReauthNeeded(str(exc)) from None
            except requests.RequestException as exc:
                server_errors += 1
                if server_errors > self.config.server_error_retries:
                    raise StepFailed(f"{label}: Spotify could not be reached ({exc})") from None
                self._backoff(server_errors)
                continue
            self.requests += 1
            status = resp.status_code
            if self.on_response is not None:
                self.on_response(endpoint, status)
            if status == 200:
                try:
                    return resp.json()
                except ValueError:
                    raise StepFailed(f"{label}: the answer is not JSON") from None
            if status == 429:
                wait = _retry_after(resp)
                if wait is None:
                    no_header_waits += 1
                    wait = self.config.retry_backoff_seconds * 2 ** (no_header_waits - 1)
                if self.waited + wait > self.config.max_retry_wait_seconds:
                    raise Paused(time.time() + wait)
                self.waited += wait
                if self.on_wait is not None:
                    self.on_wait(wait)
                self.sleep(wait)
                continue
            if status >= 500:
                server_errors += 1
                if server_errors > self.config.server_error_retries:
                    raise StepFailed(
                        f"{label}: Spotify answered HTTP {status} {server_errors} times in a row"
                    )
                self._backoff(server_errors)
                continue
            if status == 403 and endpoint == "/playlists/{id}/items":
                raise NotReadable(label)
            if status == 401:
                raise ReauthNeeded("Spotify refused SoulSpot's authorisation: sign in again.")
            raise StepFailed(f"{label}: Spotify answered HTTP {status}{_message(resp)}")

    def _backoff(self, attempt: int) -> None:
        self.sleep(self.config.retry_backoff_seconds * 2 ** (attempt - 1))


def malformed(exc: Malformed) -> StepFailed:
    return StepFailed(str(exc))


def _retry_after(resp: requests.Response) -> float | None:
    raw = resp.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _message(resp: requests.Response) -> str:
    try:
        body = resp.json()
        text = body["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f" ({text})" if isinstance(text, str) else ""
