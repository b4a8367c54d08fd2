"""The owner's authorised Web API client (:class:`soulspot.auth.OwnerClient`), lent to other
plugins through ``soulspot.api.owner_client()``.

The token logic is :class:`~soulspot_spotify.tokens.TokenManager`'s: refreshed single-flight
shortly before it expires, one refresh-and-retry on 401, ``invalid_grant`` purges the tokens.
Here a grant that is gone becomes the kernel's :class:`~soulspot.auth.ReauthorizationRequired`,
and every other answer (403, 429, 5xx) goes back to the caller untouched, so the caller can
honour ``Retry-After`` its own way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests

from soulspot import api
from soulspot.auth import ReauthorizationRequired

from .models import SpotifyToken
from .tokens import NotConnected, ProviderError, RateLimited

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Runtime


class OwnerSpotifyClient:
    """``GET`` calls to the Web API as the owner."""

    def __init__(self, rt: Runtime, user_id: str, granted_scopes: frozenset[str]) -> None:
        self.rt = rt
        self.user_id = user_id
        self.granted_scopes = granted_scopes
        self.base_url = rt.config.api_base_url.rstrip("/")

    def get(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        url = self._url(path_or_url)
        token = self._token(None)
        resp = self._call(url, params, token)
        if resp.status_code == 401:
            token = self._token(token)
            resp = self._call(url, params, token)
        return resp

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            if not path_or_url.startswith(self.base_url + "/"):
                # The bearer token goes only to the configured Web API, never elsewhere.
                raise ValueError(f"{path_or_url!r} is not under {self.base_url}")
            return path_or_url
        return self.base_url + "/" + path_or_url.lstrip("/")

    def _token(self, rejected: str | None) -> str:
        tokens = self.rt.tokens
        try:
            if rejected is None:
                return tokens.access_token(self.user_id)
            return tokens.after_unauthorized(self.user_id, rejected)
        except NotConnected as exc:
            raise ReauthorizationRequired(str(exc)) from None
        except RateLimited as exc:  # the token endpoint itself is rate limited
            raise requests.ConnectionError(str(exc)) from None
        except ProviderError as exc:
            raise requests.ConnectionError(str(exc)) from None

    def _call(self, url: str, params: Mapping[str, Any] | None, token: str) -> requests.Response:
        return requests.get(
            url,
            params=dict(params) if params else None,
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": api.request_id()},
            timeout=self.rt.config.http_timeout_seconds,
        )

    def __repr__(self) -> str:  # never the token
        return f"<OwnerSpotifyClient {self.user_id} {self.base_url}>"


def owner_client(rt: Runtime) -> OwnerSpotifyClient | None:
    """The owner's client; ``None`` when no owner is known or the owner never connected.
    An owner whose grant is gone still gets a client: its first call raises
    :class:`ReauthorizationRequired`, which tells the caller what to show."""
    owner = rt.owner()
    if not owner:
        return None
    row = SpotifyToken.get_or_none(SpotifyToken.user_id == owner)
    if row is None:
        return None
    scopes = frozenset(str(row.scope or "").split())
    return OwnerSpotifyClient(rt, owner, scopes)
