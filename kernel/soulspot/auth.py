"""The ``auth`` concern's contract: who is signed in, and Spotify access for the owner.

The auth plugin returns an object satisfying :class:`AuthProvider` from the
``auth_provider`` hook. The kernel's login gate uses ``current_user`` and ``login_url``;
other plugins borrow the owner's Spotify access through :func:`soulspot.api.owner_client`,
which returns an :class:`OwnerClient` — an HTTP client with the owner's access token attached.
They never see a token and never import the auth plugin.

Import-light: no requests at import time (only for type checking).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from .types import User


class ReauthorizationRequired(Exception):
    """The owner's grant is gone (Spotify answered ``invalid_grant``, the tokens were purged
    or cannot be decrypted): nothing works until the owner signs in again. The message is
    meant for the owner."""


@runtime_checkable
class OwnerClient(Protocol):
    """An authorised HTTP client for the owner's Spotify account.

    ``get`` attaches the access token, refreshes it single-flight (one refresh across threads)
    shortly before it expires, and on a 401 refreshes once and retries once. Any other answer
    — 403, 429, 5xx — is returned as it is, for the caller to judge. It raises
    :class:`ReauthorizationRequired` when the grant is gone (``invalid_grant``: the tokens are
    purged and the owner is asked to sign in again, as for sign-in) and
    ``requests.RequestException`` when Spotify cannot be reached.
    """

    #: The owner's Spotify user id (tells their own playlists from followed ones).
    user_id: str
    #: The scopes the owner actually granted (may be fewer than configured: an old sign-in).
    granted_scopes: frozenset[str]
    #: The Web API's base URL, e.g. ``https://api.spotify.com/v1``.
    base_url: str

    def get(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """``GET`` ``path_or_url`` — a path under :attr:`base_url` (``/me/tracks``) or a full
        URL that starts with it (a ``next`` link Spotify returned)."""
        ...


@runtime_checkable
class AuthProvider(Protocol):
    """What the ``auth_provider`` hook returns."""

    def current_user(self) -> User | None:
        """The signed-in user of the current request, or ``None``."""
        ...

    def login_url(self, next_url: str) -> str:
        """Where to send someone who must sign in, coming back to ``next_url`` after."""
        ...

    def owner_client(self) -> OwnerClient | None:
        """A client for the owner's Spotify account; ``None`` when nobody has signed in yet
        (or the owner never connected)."""
        ...
