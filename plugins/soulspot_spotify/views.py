"""The ``/auth`` pages: sign-in, callback, sign-out, sessions, first-run setup."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.fernet import InvalidToken
from flask import (
    Blueprint,
    after_this_request,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.wrappers import Response

from soulspot import api
from soulspot.errors import Problem
from soulspot.validation import validate

from .first_run import (
    CLIENT_ID_PATTERN,
    ClientIdError,
    SetupMode,
    client_id_proven,
    client_id_source,
    mark_proven,
    needs_setup,
    save_client_id,
)
from .models import OAuthPending
from .runtime import (
    SETTING_OWNER,
    now_ts,
    runtime,
    sha256,
)
from .sessions import BROWSER_COOKIE, COOKIE, describe
from .tokens import RateLimited, TokenError, fetch_profile, oauth_client

log = logging.getLogger("soulspot.spotify")

bp = Blueprint("spotify", __name__, url_prefix="/auth", template_folder="templates")

PENDING_TTL = 600  # seconds a sign-in may take (state + verifier are single use)


# --- input models --------------------------------------------------------------------------


class LoginQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    next: str = Field("/", max_length=2000)
    #: Ask the provider to show its dialog again (to sign in with another account).
    switch: bool = False


class CallbackQuery(BaseModel):
    # Providers may add parameters (RFC 9207 ``iss``): ignore what we do not use.
    model_config = ConfigDict(extra="ignore")
    code: str | None = Field(None, max_length=2000)
    state: str | None = Field(None, max_length=500)
    error: str | None = Field(None, max_length=200)
    error_description: str | None = Field(None, max_length=1000)


class LogoutForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csrf_token: str = ""
    disconnect: bool = False


class SignedOutQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disconnected: bool = False
    revoked: bool = False


class RevokeForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csrf_token: str = ""
    session: str = Field(pattern=r"^[0-9a-f]{64}$")


class CsrfOnlyForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csrf_token: str = ""


class SetupQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field("", max_length=200)


class SetupForm(BaseModel):
    # a Client ID copied from Spotify's dashboard often brings a space or a line break along
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    csrf_token: str = ""
    setup_token: str = Field("", max_length=200)
    client_id: str = Field(
        pattern=CLIENT_ID_PATTERN,
        description="The Client ID shown on your app's page at developer.spotify.com.",
    )


# --- helpers -------------------------------------------------------------------------------


def _safe_next(value: str) -> str:
    """Only paths on this site (no open redirect). Browsers drop tabs and newlines and read
    a backslash as a slash, so ``/<tab>/evil.example`` would become ``//evil.example``."""
    if not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 33 or ord(c) == 127 for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _sign_in_failed(reason: str, detail: str, status: int = 400, **extra: Any) -> Problem:
    api.audit("auth.sign_in", outcome="failed", reason=reason, **extra)
    log.warning("sign-in failed", extra={"reason": reason})
    return Problem(
        status,
        "Sign-in failed",
        detail,
        link=url_for("spotify.login"),
        link_label="Try signing in again",
    )


def _clear_browser_cookie() -> None:
    rt = runtime()

    @after_this_request
    def clear(resp: Response) -> Response:
        rt.sessions.clear_cookie(resp, BROWSER_COOKIE)
        return resp


def _consume_pending(state: str) -> OAuthPending | None:
    """Take the pending sign-in for ``state`` out of the store (single use)."""
    with api.storage().write_transaction():
        row = OAuthPending.get_or_none(OAuthPending.state_hash == sha256(state))
        if row is not None:
            OAuthPending.delete().where(OAuthPending.state_hash == row.state_hash).execute()
    return row


# --- sign-in -------------------------------------------------------------------------------


@bp.get("/login")
@api.public
@api.sign_in_step("start")
@validate(query=LoginQuery)
def login(query: LoginQuery) -> Response:
    rt = runtime()
    client_id = rt.client_id()
    if not client_id:
        return redirect(url_for("spotify.setup"))
    if request.host_url.rstrip("/") != rt.origin():
        # Spotify accepts only loopback IPs (never 'localhost'): start where the callback lands.
        return redirect(rt.origin() + request.full_path.rstrip("?"))
    from authlib.common.security import generate_token

    state = secrets.token_urlsafe(32)
    verifier = generate_token(64)  # RFC 7636: 43-128 unreserved characters
    browser = secrets.token_urlsafe(32)
    now = now_ts()
    with api.storage().write_transaction():
        OAuthPending.delete().where(OAuthPending.expires_at < now).execute()
        OAuthPending.create(
            state_hash=sha256(state),
            code_verifier=rt.keyring.encrypt(verifier),
            browser_hash=sha256(browser),
            next_url=_safe_next(query.next),
            created_at=now,
            expires_at=now + PENDING_TTL,
        )
    client = oauth_client(rt, client_id)
    extra = {"show_dialog": "true"} if query.switch else {}
    url, _state = client.create_authorization_url(
        rt.config.authorize_url,
        state=state,
        code_verifier=verifier,
        scope=" ".join(rt.config.scopes),
        **extra,
    )
    resp = redirect(url)
    rt.sessions.set_cookie(resp, BROWSER_COOKIE, browser, PENDING_TTL)
    return resp


@bp.get("/callback")
@api.public
@api.sign_in_step("callback")
@validate(query=CallbackQuery)
def callback(query: CallbackQuery) -> Response:
    from authlib.integrations.base_client.errors import OAuthError

    rt = runtime()
    _clear_browser_cookie()
    if not query.state:
        raise _sign_in_failed("missing_state", "The answer from Spotify carries no state.")
    pending = _consume_pending(query.state)
    if pending is None:
        raise _sign_in_failed(
            "unknown_state",
            "This sign-in link is unknown or was already used. Start again from SoulSpot.",
        )
    if pending.expires_at < now_ts():
        raise _sign_in_failed("expired_state", "This sign-in took too long. Start again.")
    browser = request.cookies.get(rt.sessions.cookie_name(BROWSER_COOKIE), "")
    if not browser or not hmac.compare_digest(sha256(browser), pending.browser_hash):
        raise _sign_in_failed(
            "browser_mismatch",
            "This sign-in was started in another browser. Start again from this one.",
        )
    if query.error or not query.code:
        raise _sign_in_failed(
            "provider_error",
            f"Spotify did not sign you in ({query.error or 'no code'}).",
            error=(query.error or "no_code")[:64],
        )
    try:
        verifier = rt.keyring.decrypt(pending.code_verifier)
    except InvalidToken:  # the key changed since /auth/login (a restore, an edited key)
        raise _sign_in_failed(
            "expired_state", "This sign-in can no longer be completed. Start again."
        ) from None
    try:
        client = oauth_client(rt)
        token = client.fetch_token(rt.config.token_url, code=query.code, code_verifier=verifier)
        profile = fetch_profile(rt, token["access_token"])
    except OAuthError as exc:
        raise _sign_in_failed(
            "token_exchange",
            f"Spotify refused the sign-in ({exc.error}).",
            error=str(exc.error)[:64],
        ) from None
    except RateLimited as exc:
        raise _sign_in_failed(
            "rate_limited",
            f"Spotify is busy: try again in {exc.retry_after} seconds.",
            status=503,
        ) from None
    except (TokenError, ValueError, KeyError) as exc:
        raise _sign_in_failed(
            "provider_unreachable", f"Spotify could not complete the sign-in: {exc}", status=502
        ) from None
    except requests.RequestException:
        raise _sign_in_failed(
            "provider_unreachable", "Spotify could not be reached.", status=502
        ) from None
    user_id: str = profile["id"]
    display_name = str(profile.get("display_name") or user_id)

    with api.storage().write_transaction():
        if not rt.config.owner and not rt.owner():
            api.storage().settings.set(SETTING_OWNER, user_id)
            claimed = True
        else:
            claimed = False
    if not rt.is_allowed(user_id):
        api.audit("auth.sign_in", outcome="refused", actor=user_id, reason="not_owner")
        log.warning("sign-in refused: not the owner", extra={"user": user_id})
        raise Problem(
            403,
            "This SoulSpot belongs to someone else",
            f"The Spotify account {display_name!r} may not use this SoulSpot. It is "
            "single-user: only its owner (and accounts listed in allowed_users) can sign in.",
            link=url_for("spotify.login", switch="1"),
            link_label="Sign in with another Spotify account",
        )

    rt.tokens.save(user_id, display_name, dict(token))
    old = rt.sessions.current_id()
    if old is not None:
        api.storage().sessions.delete(old)  # a fresh id at every sign-in (no fixation)
    value = rt.sessions.create(user_id, display_name)
    flask_session.clear()  # Flask's cookie (CSRF token, flashes) starts fresh with the new session
    mark_proven(rt)
    api.audit("auth.sign_in", actor=user_id, owner_claimed=claimed)
    log.info("signed in", extra={"user": user_id})
    resp = redirect(_safe_next(pending.next_url))
    rt.sessions.set_cookie(resp, COOKIE, value, int(rt.sessions.lifetime.total_seconds()))
    return resp


# --- sign-out ------------------------------------------------------------------------------


@bp.post("/logout")
@api.public
@api.ends_session
@validate(form=LogoutForm)
def logout(form: LogoutForm) -> Response:
    rt = runtime()
    record = rt.sessions.current()
    revoked = False
    if record is not None:
        api.storage().sessions.delete(record.id)
        api.audit("auth.sign_out", actor=record.user_id, disconnect=form.disconnect)
        if form.disconnect:
            revoked = rt.tokens.revoke_remote(record.user_id)
            rt.tokens.purge(record.user_id, "disconnected")
    args: dict[str, Any] = {}
    if form.disconnect and record is not None:
        args = {"disconnected": "1", "revoked": "1" if revoked else "0"}
    flask_session.clear()  # the CSRF token and flashes of the ended session go with it
    resp = redirect(url_for("spotify.signed_out", **args))
    rt.sessions.clear_cookie(resp)
    return resp


@bp.get("/signed-out")
@api.public
@validate(query=SignedOutQuery)
def signed_out(query: SignedOutQuery) -> str:
    rt = runtime()
    return render_template(
        "spotify/signed_out.html",
        disconnected=query.disconnected,
        revoked=query.revoked,
        apps_url=rt.config.account_apps_url,
    )


# --- sessions ------------------------------------------------------------------------------


def _signed_in() -> Any:
    user = api.current_user()
    if user is None:
        raise Problem(401, "Sign-in required", "Sign in to use SoulSpot.")
    return user


@bp.get("/sessions")
def sessions_page() -> str:
    rt = runtime()
    user = _signed_in()
    current = rt.sessions.current_id()
    rows = [describe(r) for r in rt.sessions.active() if user.is_owner or r.user_id == user.id]
    rows.sort(key=lambda r: r["last_seen"], reverse=True)
    return render_template(
        "spotify/sessions.html",
        sessions=rows,
        current=current,
        status=rt.tokens.status(user.id),
        apps_url=rt.config.account_apps_url,
        revocation=bool(rt.config.revocation_url),
    )


@bp.post("/sessions/revoke")
@api.ends_session
@validate(form=RevokeForm)
def revoke_session(form: RevokeForm) -> Response:
    rt = runtime()
    user = _signed_in()
    store = api.storage().sessions
    record = store.get(form.session)
    if record is None or not (user.is_owner or record.user_id == user.id):
        raise Problem(404, "No such session", "That session has already ended.")
    store.delete(record.id)
    api.audit(
        "auth.session_revoked",
        session_user=record.user_id,
        own=record.id == rt.sessions.current_id(),
    )
    if record.id == rt.sessions.current_id():
        resp = redirect(url_for("spotify.signed_out"))
        rt.sessions.clear_cookie(resp)
        return resp
    flash("The session was signed out.", "ok")
    return redirect(url_for("spotify.sessions_page"))


@bp.post("/sessions/revoke-all")
@api.ends_session
@validate(form=CsrfOnlyForm)
def revoke_all(form: CsrfOnlyForm) -> Response:
    rt = runtime()
    user = _signed_in()
    count = api.storage().sessions.delete_for_user(user.id)
    api.audit("auth.sessions_revoked_all", count=count)
    resp = redirect(url_for("spotify.signed_out"))
    rt.sessions.clear_cookie(resp)
    return resp


# --- first-run setup -----------------------------------------------------------------------


def _setup_allowed(token: str) -> bool:
    """Only this machine, or whoever holds the one-time token ``serve`` printed."""
    if api.is_local_request():
        return True
    expected = runtime().setup_token
    return bool(expected and token and hmac.compare_digest(expected, token))


def _setup_mode(token: str) -> SetupMode | Response:
    """How the setup page answers this request: a mode, or a redirect to sign in.

    While setup is not finished (no client id, or a saved one that never signed anyone in,
    e.g. mistyped) this machine and the holder of the one-time link may set it; others see
    the saved id and a sign-in button. Once a sign-in worked, only the signed-in owner (or
    ``soulspot setup --client-id`` on the server) changes it."""
    rt = runtime()
    if rt.config.client_id:
        return "config"  # page only explains; nothing can be changed here
    if needs_setup(rt):
        if _setup_allowed(token):
            return "edit"
        if not rt.client_id():
            raise Problem(
                403,
                "Setup only from this machine",
                "SoulSpot is not set up yet. Open this page on the machine that runs SoulSpot "
                "(http://127.0.0.1), or use the setup link that `soulspot serve` printed.",
            )
        return "sign_in"
    user = api.current_user()
    if user is None:
        return redirect(url_for("spotify.login", next=url_for("spotify.setup")))
    if not user.is_owner:
        raise Problem(403, "Owner only", "Only the owner can change the Spotify app.")
    return "edit"


@bp.get("/setup")
@api.public
@validate(query=SetupQuery)
def setup(query: SetupQuery) -> Any:
    rt = runtime()
    mode = _setup_mode(query.token)
    if isinstance(mode, Response):
        return mode
    return render_template(
        "spotify/setup.html",
        mode=mode,
        redirect_uri=rt.redirect_uri(),
        client_id=rt.client_id(),
        unproven=client_id_source(rt) == "setup" and not client_id_proven(rt),
        setup_token=query.token,
        scopes=rt.config.scopes,
    )


@bp.post("/setup")
@api.public
@validate(form=SetupForm)
def setup_save(form: SetupForm) -> Response:
    rt = runtime()
    mode = _setup_mode(form.setup_token)
    if isinstance(mode, Response):
        return mode
    if mode == "config":
        raise Problem(
            409,
            "Set in the config file",
            "The client id comes from [plugins.spotify] client_id; change it there.",
        )
    if mode != "edit":
        raise Problem(
            403,
            "Setup only from this machine",
            "Correct the client id on the machine that runs SoulSpot (http://127.0.0.1), "
            "with the setup link `soulspot serve` prints each time it starts, or with "
            "`soulspot setup --client-id ID`.",
        )
    try:
        client_id = save_client_id(rt, form.client_id, via="setup_page")
    except ClientIdError as exc:
        raise Problem(422, "Not a client id", str(exc)) from None
    rt.setup_token = None  # one time: `soulspot serve` prints a fresh one at its next start
    log.info("spotify client id set up", extra={"client_id": client_id})
    flash("Saved. Now sign in with Spotify.", "ok")
    return redirect(url_for("spotify.login"))


# --- connection check and status API --------------------------------------------------------


@bp.post("/check")
@validate(form=CsrfOnlyForm)
def check_connection(form: CsrfOnlyForm) -> Response:
    """Ask Spotify who we are with the stored tokens (refreshing them when needed)."""
    rt = runtime()
    user = _signed_in()
    from .tokens import SpotifyClient

    try:
        profile = SpotifyClient(rt).get("/me", user.id)
    except RateLimited as exc:
        flash(f"Spotify is busy: try again in {exc.retry_after} seconds.", "warn")
    except TokenError as exc:
        flash(f"Spotify connection failed: {exc}", "error")
    else:
        name = profile.get("display_name") or profile.get("id")
        flash(f"Spotify connection works: signed in as {name}.", "ok")
    return redirect(url_for("spotify.sessions_page"))


class SpotifyStatusOut(BaseModel):
    connected: bool
    reauth_needed: bool
    reason: str | None
    consented_at: str | None
    reauthorise_by: str | None
    days_left: int | None


class AuthStatusOut(BaseModel):
    """Who is signed in and the state of their Spotify connection."""

    user_id: str
    display_name: str
    is_owner: bool
    spotify: SpotifyStatusOut


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


api_bp = Blueprint("spotify_api", __name__, url_prefix="/api/auth")


@api_bp.get("/status")
@validate(query=NoParams, response=AuthStatusOut, summary="Signed-in user and Spotify state")
def api_status(query: NoParams) -> Response:
    from flask import jsonify

    user = _signed_in()
    status = runtime().tokens.status(user.id)
    out = AuthStatusOut(
        user_id=user.id,
        display_name=user.display_name,
        is_owner=user.is_owner,
        spotify=SpotifyStatusOut(
            connected=status.connected,
            reauth_needed=status.reauth_needed,
            reason=status.reason,
            consented_at=status.consented_at.isoformat() if status.consented_at else None,
            reauthorise_by=status.reauthorise_by.isoformat() if status.reauthorise_by else None,
            days_left=status.days_left,
        ),
    )
    return jsonify(out.model_dump(mode="json"))


# --- dashboard -----------------------------------------------------------------------------


def panel_context() -> dict[str, Any]:
    rt = runtime()
    user = api.current_user()
    if user is None:
        return {"user": None}
    return {
        "user": user,
        "status": rt.tokens.status(user.id),
        "apps_url": rt.config.account_apps_url,
    }
