"""Spotify tokens: stored encrypted, refreshed single-flight, purged when they die.

- Tokens are encrypted with the app's :class:`~soulspot_spotify.crypto.KeyRing` before they
  touch the database; nothing here logs a token.
- An access token is refreshed ``token_refresh_leeway_seconds`` before it expires, and when
  the API answers 401. One lock per account makes the refresh single-flight across threads:
  the first thread refreshes, the others wait and reuse its result.
- A refresh that returns no refresh token keeps the old one (Spotify may or may not rotate).
- ``invalid_grant`` is final: the tokens are purged, the account is marked "re-authorisation
  needed" and an audit event is written.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from soulspot import api

from .crypto import InvalidToken
from .models import SpotifyToken
from .runtime import now_ts

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Runtime

log = logging.getLogger("soulspot.spotify")

DAY = 86400.0


class TokenError(Exception):
    """Spotify could not be reached with this account's tokens."""


class NotConnected(TokenError):
    """No usable tokens: the account must sign in (again)."""


class RateLimited(TokenError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Spotify asks us to wait {retry_after} s")
        self.retry_after = retry_after


class ProviderError(TokenError):
    """The provider failed (network, 5xx, unexpected answer)."""


@dataclass(frozen=True)
class TokenStatus:
    user_id: str
    display_name: str
    connected: bool
    reauth_needed: bool
    reason: str | None
    consented_at: dt.datetime | None
    reauthorise_by: dt.datetime | None
    days_left: int | None
    warn: bool


def retry_after_seconds(resp: requests.Response) -> int:
    try:
        return max(0, int(resp.headers.get("Retry-After", "1")))
    except ValueError:
        return 1


def check_rate_limit(resp: requests.Response) -> requests.Response:
    """authlib compliance hook: a 429 from the token endpoint is not a token response."""
    if resp.status_code == 429:
        raise RateLimited(retry_after_seconds(resp))
    return resp


def oauth_client(rt: Runtime, client_id: str | None = None) -> Any:
    """authlib's requests client for a public client (PKCE, no secret), with our request id."""
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(
        client_id=client_id or rt.client_id(),
        token_endpoint_auth_method="none",  # noqa: S106 # nosec B106
        revocation_endpoint_auth_method="none",
        code_challenge_method="S256",
        redirect_uri=rt.redirect_uri(),
        default_timeout=rt.config.http_timeout_seconds,
    )
    session.headers["X-Request-ID"] = api.request_id()
    session.register_compliance_hook("access_token_response", check_rate_limit)
    session.register_compliance_hook("refresh_token_response", check_rate_limit)
    return session


class TokenManager:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _lock(self, user_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(user_id, threading.Lock())

    # --- storing ---------------------------------------------------------------------------

    def save(self, user_id: str, display_name: str, token: dict[str, Any]) -> None:
        """Store the tokens of a fresh sign-in (encrypted); keeps the first-consent date of a
        grant that is still alive."""
        keys = self.rt.keyring
        now = now_ts()
        with api.storage().write_transaction():
            row = SpotifyToken.get_or_none(SpotifyToken.user_id == user_id)
            alive = row is not None and row.refresh_token is not None and not row.reauth_needed
            kept = row.refresh_token if row is not None and alive else None
            consented = row.consented_at if row is not None and alive else None
            refresh = token.get("refresh_token")
            enc_refresh = keys.encrypt(refresh) if refresh else kept
            values = {
                "display_name": display_name,
                "access_token": keys.encrypt(token["access_token"]),
                "refresh_token": enc_refresh,
                "scope": str(token.get("scope") or ""),
                "expires_at": _expires_at(token, now),
                "consented_at": consented or now,
                "updated_at": now,
                "reauth_needed": False,
                "reauth_reason": None,
            }
            if row is None:
                SpotifyToken.create(user_id=user_id, **values)
            else:
                SpotifyToken.update(**values).where(SpotifyToken.user_id == user_id).execute()

    def purge(self, user_id: str, reason: str) -> bool:
        """Forget the tokens of ``user_id`` and mark it "re-authorisation needed"."""
        with api.storage().write_transaction():
            count = (
                SpotifyToken.update(
                    access_token=None,
                    refresh_token=None,
                    expires_at=0,
                    consented_at=None,
                    reauth_needed=True,
                    reauth_reason=reason,
                    updated_at=now_ts(),
                )
                .where(SpotifyToken.user_id == user_id)
                .execute()
            )
        if count:
            api.audit("auth.tokens_purged", actor=user_id, reason=reason)
            log.warning("spotify tokens purged", extra={"user": user_id, "reason": reason})
        return bool(count)

    def status(self, user_id: str) -> TokenStatus:
        row = SpotifyToken.get_or_none(SpotifyToken.user_id == user_id)
        if row is None:
            return TokenStatus(user_id, user_id, False, False, None, None, None, None, False)
        connected = row.refresh_token is not None or row.access_token is not None
        consented = _dt(row.consented_at) if row.consented_at else None
        due = (
            consented + dt.timedelta(days=self.rt.config.refresh_token_lifetime_days)
            if consented and connected
            else None
        )
        days = None
        if due is not None:
            days = max(0, int((due.timestamp() - now_ts()) // DAY))
        warn = bool(row.reauth_needed) or (
            days is not None and days <= self.rt.config.reauthorise_warning_days
        )
        return TokenStatus(
            user_id=user_id,
            display_name=row.display_name or user_id,
            connected=connected,
            reauth_needed=bool(row.reauth_needed),
            reason=row.reauth_reason,
            consented_at=consented,
            reauthorise_by=due,
            days_left=days,
            warn=warn,
        )

    # --- using -----------------------------------------------------------------------------

    def access_token(self, user_id: str) -> str:
        """A valid access token for ``user_id``, refreshed first when it is about to expire."""
        fresh = self._fresh_token(user_id)
        if fresh is not None:
            return fresh
        with self._lock(user_id):
            fresh = self._fresh_token(user_id)  # another thread may have refreshed meanwhile
            if fresh is not None:
                return fresh
            return self._refresh(user_id)

    def after_unauthorized(self, user_id: str, rejected: str) -> str:
        """The API refused ``rejected`` (401): refresh once, unless another thread already
        replaced that token."""
        with self._lock(user_id):
            row = self._row(user_id)
            current = self._decrypt(user_id, row.access_token) if row.access_token else None
            if current is not None and current != rejected:
                return current
            return self._refresh(user_id)

    def revoke_remote(self, user_id: str) -> bool:
        """RFC 7009: revoke the refresh (and access) token at ``revocation_url``. ``False`` when
        no endpoint is configured (Spotify has none) or the call failed."""
        url = self.rt.config.revocation_url
        row = SpotifyToken.get_or_none(SpotifyToken.user_id == user_id)
        if not url or row is None:
            return False
        ok = True
        client = oauth_client(self.rt)
        for column, hint in (
            (row.refresh_token, "refresh_token"),
            (row.access_token, "access_token"),
        ):
            if not column:
                continue
            try:
                token = self.rt.keyring.decrypt(column)
                resp = client.revoke_token(url, token=token, token_type_hint=hint)
                ok = ok and resp.status_code == 200
            except (InvalidToken, requests.RequestException, RateLimited):
                ok = False
        return ok

    # --- internals -------------------------------------------------------------------------

    def _row(self, user_id: str) -> SpotifyToken:
        row = SpotifyToken.get_or_none(SpotifyToken.user_id == user_id)
        if row is None or row.reauth_needed or (row.access_token is None and not row.refresh_token):
            raise NotConnected("Spotify is not connected: sign in with Spotify again.")
        return row

    def _decrypt(self, user_id: str, value: str) -> str:
        try:
            return self.rt.keyring.decrypt(value)
        except InvalidToken:
            # Encrypted under a key we no longer have (restored from before a rotation).
            self.purge(user_id, "key_unavailable")
            raise NotConnected(
                "The stored Spotify tokens cannot be decrypted with the current key: "
                "sign in with Spotify again."
            ) from None

    def _fresh_token(self, user_id: str) -> str | None:
        row = self._row(user_id)
        leeway = self.rt.config.token_refresh_leeway_seconds
        if row.access_token and row.expires_at - leeway > now_ts():
            return self._decrypt(user_id, row.access_token)
        return None

    def _refresh(self, user_id: str) -> str:
        from authlib.integrations.base_client.errors import OAuthError

        row = self._row(user_id)
        if not row.refresh_token:
            self.purge(user_id, "no_refresh_token")
            raise NotConnected("Spotify gave no refresh token: sign in with Spotify again.")
        old_refresh = self._decrypt(user_id, row.refresh_token)
        client = oauth_client(self.rt)
        try:
            token = client.refresh_token(self.rt.config.token_url, refresh_token=old_refresh)
        except RateLimited as exc:
            api.audit("auth.refresh_failed", outcome="failed", actor=user_id, error="rate_limited")
            raise exc from None
        except OAuthError as exc:
            error = str(exc.error or "oauth_error")
            api.audit("auth.refresh_failed", outcome="failed", actor=user_id, error=error)
            if error == "invalid_grant":
                self.purge(user_id, "invalid_grant")
                raise NotConnected(
                    "Spotify no longer accepts SoulSpot's authorisation (it expires six months "
                    "after you first agreed, or was revoked): sign in with Spotify again."
                ) from None
            raise ProviderError(f"Spotify refused to refresh the token ({error})") from None
        except (requests.RequestException, ValueError) as exc:
            api.audit(
                "auth.refresh_failed", outcome="failed", actor=user_id, error=type(exc).__name__
            )
            raise ProviderError("Spotify could not be reached to refresh the token") from None
        keys = self.rt.keyring
        new_refresh = token.get("refresh_token") or old_refresh  # keep it when none returned
        now = now_ts()
        with api.storage().write_transaction():
            SpotifyToken.update(
                access_token=keys.encrypt(token["access_token"]),
                refresh_token=keys.encrypt(new_refresh),
                expires_at=_expires_at(token, now),
                updated_at=now,
            ).where(SpotifyToken.user_id == user_id).execute()
        log.info(
            "spotify token refreshed",
            extra={
                "user": user_id,
                "rotated": "refresh_token" in token and token.get("refresh_token") != old_refresh,
            },
        )
        return str(token["access_token"])


class SpotifyClient:
    """Calls to the Web API as ``user_id``: bearer token, ``X-Request-ID``, one refresh and
    retry on 401, :class:`RateLimited` on 429."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def get(self, path: str, user_id: str) -> Any:
        tokens = self.rt.tokens
        token = tokens.access_token(user_id)
        resp = self._call(path, token)
        if resp.status_code == 401:
            token = tokens.after_unauthorized(user_id, token)
            resp = self._call(path, token)
        return _json(resp)

    def _call(self, path: str, token: str) -> requests.Response:
        try:
            return requests.get(
                self.rt.api_url(path),
                headers={"Authorization": f"Bearer {token}", "X-Request-ID": api.request_id()},
                timeout=self.rt.config.http_timeout_seconds,
            )
        except requests.RequestException as exc:
            raise ProviderError(f"Spotify could not be reached ({type(exc).__name__})") from None


def fetch_profile(rt: Runtime, access_token: str) -> dict[str, Any]:
    """``GET /me`` with a token we just got (sign-in)."""
    try:
        resp = requests.get(
            rt.api_url("/me"),
            headers={"Authorization": f"Bearer {access_token}", "X-Request-ID": api.request_id()},
            timeout=rt.config.http_timeout_seconds,
        )
    except requests.RequestException as exc:
        raise ProviderError(f"Spotify could not be reached ({type(exc).__name__})") from None
    data = _json(resp)
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise ProviderError("Spotify's profile answer has no user id")
    return data


def _json(resp: requests.Response) -> Any:
    if resp.status_code == 429:
        raise RateLimited(retry_after_seconds(resp))
    if resp.status_code == 401:
        raise NotConnected("Spotify refused the access token")
    if resp.status_code >= 400:
        raise ProviderError(f"Spotify answered HTTP {resp.status_code}")
    try:
        return resp.json()
    except ValueError:
        raise ProviderError("Spotify's answer is not JSON") from None


def _expires_at(token: dict[str, Any], now: float) -> float:
    if token.get("expires_in") is not None:
        return now + float(token["expires_in"])
    if token.get("expires_at") is not None:
        return float(token["expires_at"])
    return now + 3600.0


def _dt(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)
