"""Server-side sessions in the store's :class:`~soulspot.stores.SessionStore`.

The browser holds a random cookie value; the store keys on its sha256, so a copy of the
database hands out no live session. A session ends at ``session_lifetime_hours`` after
sign-in (absolute) or after ``session_idle_minutes`` without use (idle); ``last_seen`` is
written at most once a minute. The cookie is HttpOnly and SameSite=Lax; behind an https
``[kernel] public_url`` it is also Secure and named with the ``__Host-`` prefix.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any, cast

from flask import g, has_request_context, request, url_for
from werkzeug.wrappers import Response

from soulspot import api
from soulspot.auth import OwnerClient
from soulspot.stores import SessionRecord
from soulspot.types import User

from .runtime import as_utc, sha256, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Runtime

COOKIE = "soulspot_session"
BROWSER_COOKIE = "soulspot_signin"
TOUCH_EVERY = dt.timedelta(seconds=60)


class SessionManager:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.lifetime = dt.timedelta(hours=rt.config.session_lifetime_hours)
        self.idle = dt.timedelta(minutes=rt.config.session_idle_minutes)

    # --- cookies ---------------------------------------------------------------------------

    def cookie_name(self, base: str = COOKIE) -> str:
        return f"__Host-{base}" if self.rt.secure_cookies else base

    def set_cookie(self, resp: Response, name: str, value: str, max_age: int) -> None:
        resp.set_cookie(
            self.cookie_name(name),
            value,
            max_age=max_age,
            path="/",
            secure=self.rt.secure_cookies,
            httponly=True,
            samesite="Lax",
        )

    def clear_cookie(self, resp: Response, name: str = COOKIE) -> None:
        resp.delete_cookie(
            self.cookie_name(name),
            path="/",
            secure=self.rt.secure_cookies,
            httponly=True,
            samesite="Lax",
        )

    # --- lifetime --------------------------------------------------------------------------

    def create(self, user_id: str, display_name: str) -> str:
        """A new session (new id: no fixation); returns the cookie value. Outside a request
        (a session issued to a test or script) it records no address or browser."""
        value = secrets.token_urlsafe(32)
        now = utcnow()
        agent = request.user_agent.string if has_request_context() else None
        api.storage().sessions.create(
            SessionRecord(
                id=sha256(value),
                user_id=user_id,
                created_at=now,
                last_seen=now,
                expires_at=now + self.lifetime,
                ip=api.client_ip(),
                user_agent=(agent or "")[:300] or None,
                # the owner when this session began: it never changes afterwards (a claim
                # happens before the claiming session exists; a restore replaces sessions
                # too), so a signed-in request need not read it again
                data={"display_name": display_name, "owner": self.rt.owner()},
            )
        )
        return value

    def current(self) -> SessionRecord | None:
        """This request's live session (cached for the request), or ``None``."""
        if "spotify_session" in g:
            return cast(SessionRecord | None, g.spotify_session)
        g.spotify_session = record = self._load()
        return record

    def current_id(self) -> str | None:
        record = self.current()
        return record.id if record else None

    def _load(self) -> SessionRecord | None:
        value = request.cookies.get(self.cookie_name())
        if not value or len(value) > 200:
            return None
        store = api.storage().sessions
        sid = sha256(value)
        record = store.get(sid)
        if record is None:
            return None
        now = utcnow()
        if as_utc(record.expires_at) <= now or as_utc(record.last_seen) <= now - self.idle:
            store.delete(sid)
            return None
        if not self.rt.is_allowed(record.user_id, self.owner_of(record)):
            return None
        if now - as_utc(record.last_seen) >= TOUCH_EVERY:
            store.touch(sid, now)
        return record

    def user(self) -> User | None:
        record = self.current()
        if record is None:
            return None
        name = str(record.data.get("display_name") or record.user_id)
        owner = self.owner_of(record)
        return User(id=record.user_id, display_name=name, is_owner=record.user_id == owner)

    def owner_of(self, record: SessionRecord) -> str:
        """The instance's owner as this session knows it (config first; sessions made
        before the owner was recorded in them read it from the store)."""
        if self.rt.config.owner:
            return self.rt.config.owner
        recorded = record.data.get("owner")
        return recorded if isinstance(recorded, str) and recorded else self.rt.owner()

    def purge(self) -> int:
        now = utcnow()
        return api.storage().sessions.purge_expired(now, now - self.idle)

    def active(self) -> list[SessionRecord]:
        now = utcnow()
        idle_cutoff = now - self.idle
        return [
            r
            for r in api.storage().sessions.list_active(now)
            if as_utc(r.last_seen) > idle_cutoff and as_utc(r.expires_at) > now
        ]


class SpotifyAuth:
    """What the ``auth_provider`` hook returns: the kernel's login gate asks it who is signed
    in and where to send people who are not."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def current_user(self) -> User | None:
        return self.rt.sessions.user()

    def session_key(self) -> str | None:
        """``soulspot.types.SessionKeySource``: the store's id of this request's live session
        (a hash of the cookie: it signs nobody in)."""
        return self.rt.sessions.current_id()

    def issue_session(self, user: User) -> dict[str, str]:
        """Sign ``user`` in without Spotify (``soulspot.types.SessionIssuer``): the session and
        owner claim a completed sign-in makes, audited as ``auth.sign_in`` with
        ``via="issued"``. No Spotify tokens are stored: pages that call Spotify say it is not
        connected. For tests and scripts (``soulspot.testing.session_cookies``)."""
        from .runtime import SETTING_OWNER

        store = api.storage()
        with store.connection():
            with store.write_transaction():
                claimed = not self.rt.config.owner and not self.rt.owner()
                if claimed:
                    store.settings.set(SETTING_OWNER, user.id)
            if not self.rt.is_allowed(user.id):
                raise PermissionError(
                    f"{user.id!r} may not sign in: this SoulSpot belongs to "
                    f"{self.rt.owner()!r} (add the id to [plugins.spotify] allowed_users)"
                )
            value = self.rt.sessions.create(user.id, user.display_name)
            api.audit("auth.sign_in", actor=user.id, via="issued", owner_claimed=claimed)
        return {self.rt.sessions.cookie_name(): value}

    def login_url(self, next_url: str) -> str:
        from .first_run import needs_setup

        if needs_setup(self.rt):
            # No client id, or one that never signed anyone in (perhaps mistyped): the setup
            # page shows it, with a way to correct it and a button to sign in.
            return url_for("spotify.setup")
        path = url_for("spotify.login", next=next_url or "/")
        if request.host_url.rstrip("/") != self.rt.origin():
            # Sign-in must happen on the redirect URI's origin (127.0.0.1, not localhost), or
            # the browser-binding cookie would not come back with the callback.
            return self.rt.origin() + path
        return path

    def owner_client(self) -> OwnerClient | None:
        from .owner import owner_client

        return owner_client(self.rt)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<SpotifyAuth {self.rt.redirect_uri()}>"


def describe(record: SessionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "user_id": record.user_id,
        "created_at": as_utc(record.created_at),
        "last_seen": as_utc(record.last_seen),
        "expires_at": as_utc(record.expires_at),
        "ip": record.ip or "",
        "user_agent": record.user_agent or "",
    }
