"""A local OAuth 2.0 provider that behaves like Spotify's accounts service, for tests and
``make demo``.

A real HTTP server on 127.0.0.1 (werkzeug, in a thread) built from authlib's server
components. Like Spotify it:

- takes public clients only (PKCE, no client secret: ``client_id`` in the token request body);
- accepts ``code_challenge_method=S256`` only: ``plain`` and a missing method are refused
  (authlib's ``CodeChallenge`` would accept ``plain``);
- issues single-use authorization codes bound to the exact registered redirect URI;
- refreshes with or without refresh-token rotation (``rotate_refresh_tokens``) and answers
  ``invalid_grant`` for unknown, revoked or expired refresh tokens;
- can answer 429 with ``Retry-After`` (``rate_limit(...)``);
- serves ``/v1/me`` for a bearer token (401 when it is expired or unknown), and the rest of
  the Web API once a :class:`~spotify_webapi.SpotifyWebAPI` is attached (``web_api``);
- optionally serves an RFC 7009 revocation endpoint (Spotify has none: ``revocation=False``).

Every knob is an attribute or method of :class:`LocalOAuthProvider`, so each test configures
its own provider. Run it on its own (``make demo``)::

    python tests/support/oauth_provider.py --port 8766 \
        --client-id soulspot-demo --redirect-uri http://127.0.0.1:8765/auth/callback

``--library-seed N`` also serves a generated library (the first user's) through the Web API
stand-in, edited a little every ``--mutate-every`` seconds (or on ``POST /_standin/mutate``)
so syncs find history to record; ``--library-scale`` makes it smaller or larger.
"""

from __future__ import annotations

import argparse
import html
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    InvalidRequestError,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, Response, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

DEFAULT_USERS = {"alice": "Alice Owner", "bob": "Bob Stranger", "carol": "Carol Friend"}


# --- models (in memory) --------------------------------------------------------------------


@dataclass
class User:
    id: str
    display_name: str

    def get_user_id(self) -> str:
        return self.id


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    redirect_uris: list[str]
    #: Scopes a sign-in may grant (``None``: whatever is asked); see ``granted_scopes``.
    grantable: frozenset[str] | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        if self.grantable is None:
            return scope or ""
        return " ".join(s for s in (scope or "").split() if s in self.grantable)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact match, like Spotify

    def check_client_secret(self, client_secret: str) -> bool:
        return False  # public client: PKCE instead of a secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class AuthCode(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user_id: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token(TokenMixin):  # type: ignore[misc]
    access_token: str
    refresh_token: str | None
    client_id: str
    scope: str
    user_id: str
    expires_in: int
    issued_at: float = field(default_factory=time.time)
    access_revoked: bool = False
    refresh_revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.access_revoked

    def get_user(self) -> str:
        return self.user_id

    def get_client(self) -> Any:
        return None


# --- grants and endpoints ------------------------------------------------------------------


class S256Only(CodeChallenge):  # type: ignore[misc]
    """PKCE as Spotify does it: a challenge and ``S256`` are both required."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge' (PKCE is required)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

    def save_authorization_code(self, code: str, req: Any) -> None:
        provider: LocalOAuthProvider = self.server.provider
        data = req.payload.data
        with provider.lock:
            provider.codes[code] = AuthCode(
                code=code,
                client_id=req.client.client_id,
                redirect_uri=req.payload.redirect_uri or "",
                scope=req.payload.scope or "",
                user_id=req.user.id,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                expires_at=time.time() + 600,
            )

    def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
        provider: LocalOAuthProvider = self.server.provider
        with provider.lock:
            item = provider.codes.get(code)
        if item and item.client_id == client.client_id and item.expires_at > time.time():
            return item
        return None

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        provider: LocalOAuthProvider = self.server.provider
        with provider.lock:
            provider.codes.pop(authorization_code.code, None)  # single use

    def authenticate_user(self, authorization_code: AuthCode) -> User:
        return self.server.provider.user(authorization_code.user_id)


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        provider: LocalOAuthProvider = self.server.provider
        with provider.lock:
            token = provider.by_refresh.get(refresh_token)
        if token is None or token.refresh_revoked or provider.refresh_tokens_expired:
            return None  # -> invalid_grant
        return token

    def authenticate_user(self, refresh_token: Token) -> User:
        return self.server.provider.user(refresh_token.user_id)

    def issue_token(self, user: User, refresh_token: Token) -> dict[str, Any]:
        provider: LocalOAuthProvider = self.server.provider
        return dict(
            self.generate_token(
                user=user,
                scope=refresh_token.get_scope(),
                include_refresh_token=provider.rotate_refresh_tokens,
            )
        )

    def revoke_old_credential(self, refresh_token: Token) -> None:
        if self.server.provider.rotate_refresh_tokens:
            refresh_token.refresh_revoked = True


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        provider: LocalOAuthProvider = self.server.provider
        with provider.lock:
            return provider.by_access.get(token_string) or provider.by_refresh.get(token_string)

    def revoke_token(self, token: Token, req: Any) -> None:
        token.access_revoked = True
        token.refresh_revoked = True


class _Validator(BearerTokenValidator):  # type: ignore[misc]
    def __init__(self, provider: LocalOAuthProvider) -> None:
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string: str) -> Token | None:
        with self.provider.lock:
            return self.provider.by_access.get(token_string)


class _QuietHandler(WSGIRequestHandler):
    """No access log: request lines carry codes and states."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass


# --- the provider --------------------------------------------------------------------------


class LocalOAuthProvider:
    """A Spotify-like OAuth 2.0 provider on ``127.0.0.1:<port>``; use as a context manager."""

    def __init__(
        self,
        *,
        client_id: str = "soulspot-test",
        redirect_uris: Iterable[str] = (),
        users: dict[str, str] | None = None,
        access_token_ttl: int = 3600,
        rotate_refresh_tokens: bool = False,
        revocation: bool = False,
        auto_approve: bool = True,
        port: int = 0,
    ) -> None:
        self.client = Client(client_id, list(redirect_uris))
        self.users = dict(users or DEFAULT_USERS)
        self.access_token_ttl = access_token_ttl
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.revocation_enabled = revocation
        self.auto_approve = auto_approve
        #: Who approves the next authorization request (auto-approve mode).
        self.next_user = next(iter(self.users))
        #: ``True``: every refresh token is expired (Spotify's 6-month limit) -> invalid_grant.
        self.refresh_tokens_expired = False
        #: Deny the next authorization request (``error=access_denied``).
        self.deny_next = False

        self.lock = threading.RLock()
        self.codes: dict[str, AuthCode] = {}
        self.by_access: dict[str, Token] = {}
        self.by_refresh: dict[str, Token] = {}
        #: Calls per endpoint: ``authorize``, ``token:authorization_code``,
        #: ``token:refresh_token``, ``me``, ``revoke``.
        self.calls: Counter[str] = Counter()
        #: Query parameters of every authorization request, in order.
        self.authorize_requests: list[dict[str, str]] = []
        #: Form fields of every token request, in order (``code_verifier`` included).
        self.token_requests: list[dict[str, str]] = []
        #: ``(endpoint, headers)`` of every call, in order.
        self.seen_headers: list[tuple[str, dict[str, str]]] = []
        self._rate_limits: dict[str, list[int]] = {}
        #: The Web API stand-in serving ``/v1/...`` (``SpotifyWebAPI.attach``); ``None``: only
        #: ``/v1/me``.
        self.web_api: Any = None

        self.app = self._build_app()
        self._server = make_server(
            "127.0.0.1", port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def granted_scopes(self) -> frozenset[str] | None:
        """Set to grant new sign-ins only these of the scopes they ask for (as a sign-in made
        before the app asked for more has); ``None``: all of them."""
        return self.client.grantable

    @granted_scopes.setter
    def granted_scopes(self, scopes: Iterable[str] | None) -> None:
        self.client.grantable = None if scopes is None else frozenset(scopes)

    # URLs to configure the client with
    @property
    def authorize_url(self) -> str:
        return f"{self.url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.url}/api/token"

    @property
    def api_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def revocation_url(self) -> str:
        return f"{self.url}/revoke"

    def client_config(self) -> dict[str, Any]:
        """``[plugins.spotify]`` settings that point SoulSpot at this provider."""
        cfg: dict[str, Any] = {
            "client_id": self.client.client_id,
            "authorize_url": self.authorize_url,
            "token_url": self.token_url,
            "api_base_url": self.api_base_url,
        }
        if self.revocation_enabled:
            cfg["revocation_url"] = self.revocation_url
        return cfg

    # lifecycle
    def start(self) -> LocalOAuthProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalOAuthProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # knobs
    def rate_limit(self, endpoint: str, count: int = 1, retry_after: int = 2) -> None:
        """The next ``count`` calls to ``endpoint`` (``token`` or ``me``) get 429."""
        with self.lock:
            self._rate_limits[endpoint] = [count, retry_after]

    def expire_access_tokens(self) -> None:
        with self.lock:
            for token in self.by_access.values():
                token.issued_at -= token.expires_in + 1

    def issue_access_token(self, user_id: str, scope: str = "") -> str:
        """An access token for ``user_id`` with ``scope``, as if they had signed in (for tests
        of the Web API stand-in that need no client)."""
        token = Token(
            "AT" + generate_token(46),
            None,
            self.client.client_id,
            scope,
            user_id,
            self.access_token_ttl,
        )
        with self.lock:
            self.by_access[token.access_token] = token
        return token.access_token

    def user(self, user_id: str) -> User:
        return User(user_id, self.users.get(user_id, user_id))

    def issued_tokens(self) -> set[str]:
        """Every access and refresh token ever issued (to look for leaks)."""
        with self.lock:
            return set(self.by_access) | set(self.by_refresh)

    # internals
    def _take_rate_limit(self, endpoint: str) -> Response | None:
        with self.lock:
            entry = self._rate_limits.get(endpoint)
            if not entry or entry[0] <= 0:
                return None
            entry[0] -= 1
            retry_after = entry[1]
        return Response("Too Many Requests", status=429, headers={"Retry-After": str(retry_after)})

    def _save_token(self, token: dict[str, Any], req: Any) -> None:
        item = Token(
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            client_id=req.client.client_id,
            scope=token.get("scope", ""),
            user_id=req.user.id,
            expires_in=int(token["expires_in"]),
        )
        with self.lock:
            self.by_access[item.access_token] = item
            if item.refresh_token:
                self.by_refresh[item.refresh_token] = item
            elif getattr(req, "refresh_token", None) is not None:
                # no rotation: the old refresh token keeps working for this grant
                old = req.refresh_token
                item.refresh_token = old.refresh_token
                self.by_refresh[old.refresh_token] = item

    def _build_app(self) -> Flask:
        app = Flask("local_oauth_provider")
        server = AuthorizationServer(
            app, query_client=self._query_client, save_token=self._save_token
        )
        server.provider = self
        server.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda *a, **k: "AT" + generate_token(46),
                refresh_token_generator=lambda *a, **k: "RT" + generate_token(46),
                expires_generator=lambda client, grant_type: self.access_token_ttl,
            ),
        )
        server.register_grant(CodeGrant, [S256Only(required=True)])
        server.register_grant(RefreshGrant)
        server.register_endpoint(Revocation)
        protector = ResourceProtector()
        protector.register_token_validator(_Validator(self))

        def record(endpoint: str) -> None:
            with self.lock:
                self.calls[endpoint] += 1
                self.seen_headers.append((endpoint, dict(request.headers)))

        @app.before_request
        def web_api() -> Any:
            if self.web_api is None or not request.path.startswith("/v1/"):
                return None
            if request.path == "/v1/me":
                record("me")
                limited = self._take_rate_limit("me")
                if limited is not None:
                    return limited
            return self.web_api.handle()

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Any:
            record("authorize")
            with self.lock:
                self.authorize_requests.append(dict(request.args))
            if request.method == "GET" and not self.auto_approve:
                try:
                    server.get_consent_grant(end_user=None)
                except OAuth2Error as error:
                    return server.handle_error_response(None, error)
                return self._consent_page()
            if request.method == "POST":
                user_id = request.form.get("user", "")
                approved = request.form.get("decision") == "approve" and user_id in self.users
            else:
                user_id, approved = self.next_user, not self.deny_next
                self.deny_next = False
            user = self.user(user_id) if approved else None
            try:
                grant = server.get_consent_grant(end_user=user)
            except OAuth2Error as error:
                if error.redirect_uri:
                    return server.handle_error_response(None, error)
                return jsonify(dict(error.get_body())), error.status_code
            return server.create_authorization_response(grant_user=user, grant=grant)

        @app.post("/api/token")
        def token() -> Any:
            grant_type = request.form.get("grant_type", "?")
            record(f"token:{grant_type}")
            with self.lock:
                self.token_requests.append(dict(request.form))
            limited = self._take_rate_limit("token")
            if limited is not None:
                return limited
            return server.create_token_response()

        @app.post("/revoke")
        def revoke() -> Any:
            record("revoke")
            if not self.revocation_enabled:
                return Response("Not Found", status=404)
            return server.create_endpoint_response(Revocation.ENDPOINT_NAME)

        @app.get("/v1/me")
        def me() -> Any:
            record("me")
            limited = self._take_rate_limit("me")
            if limited is not None:
                return limited
            with protector.acquire() as token:
                user = self.user(token.user_id)
            return jsonify(
                {
                    "id": user.id,
                    "display_name": user.display_name,
                    "type": "user",
                    "uri": f"spotify:user:{user.id}",
                }
            )

        return app

    def _query_client(self, client_id: str) -> Client | None:
        return self.client if client_id == self.client.client_id else None

    def _consent_page(self) -> str:
        query = html.escape(urlencode(request.args))
        options = "".join(
            f'<option value="{html.escape(uid)}">{html.escape(name)} ({html.escape(uid)})</option>'
            for uid, name in self.users.items()
        )
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<title>Local OAuth provider</title></head><body>"
            "<h1>Local OAuth provider (offline stand-in for Spotify)</h1>"
            f"<p>SoulSpot (client <code>{html.escape(self.client.client_id)}</code>) asks for: "
            f"<code>{html.escape(request.args.get('scope', '') or '(no scope)')}</code></p>"
            f'<form method="post" action="/authorize?{query}">'
            f'<label for="user">Sign in as</label> <select id="user" name="user">{options}'
            "</select> "
            '<button name="decision" value="approve">Approve</button> '
            '<button name="decision" value="deny">Deny</button></form></body></html>'
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--client-id", default="soulspot-demo")
    parser.add_argument(
        "--redirect-uri", action="append", help="registered redirect URI (repeatable)"
    )
    parser.add_argument("--rotate-refresh-tokens", action="store_true")
    parser.add_argument("--revocation", action="store_true", help="serve RFC 7009 /revoke")
    parser.add_argument("--access-token-ttl", type=int, default=3600)
    parser.add_argument(
        "--library-seed", type=int, help="serve a generated Spotify library made from this seed"
    )
    parser.add_argument(
        "--mutate-every",
        type=float,
        default=60.0,
        help="seconds between random edits of the generated library (0: never)",
    )
    parser.add_argument(
        "--library-scale",
        type=float,
        default=1.0,
        help="size of the generated library (1: 60 playlists, 2,500 liked songs)",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per Web API call")
    args = parser.parse_args(argv)
    provider = LocalOAuthProvider(
        client_id=args.client_id,
        redirect_uris=args.redirect_uri or ["http://127.0.0.1:8765/auth/callback"],
        rotate_refresh_tokens=args.rotate_refresh_tokens,
        revocation=args.revocation,
        access_token_ttl=args.access_token_ttl,
        auto_approve=False,
        port=args.port,
    )
    print(f"local OAuth provider on {provider.url} (client id {args.client_id})", flush=True)
    print(f"  authorize_url = {provider.authorize_url}", flush=True)
    print(f"  token_url     = {provider.token_url}", flush=True)
    print(f"  api_base_url  = {provider.api_base_url}", flush=True)
    if args.library_seed is not None:
        serve_library(
            provider, args.library_seed, args.mutate_every, args.latency, args.library_scale
        )
    try:
        provider._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        provider._server.server_close()


def serve_library(
    provider: LocalOAuthProvider,
    seed: int,
    mutate_every: float,
    latency: float,
    scale: float = 1.0,
) -> None:
    """Attach the Web API stand-in with a generated library for the first user and, when
    ``mutate_every`` > 0, edit it now and then on a daemon thread (printing each edit)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script
    from support.spotify_webapi import SpotifyWebAPI, generate_library
    from support.webapi_generate import mutate_randomly

    user = next(iter(provider.users))
    api = SpotifyWebAPI.attach(provider)
    api.latency = latency
    library = generate_library(
        seed=seed,
        playlists=max(8, round(60 * scale)),
        items=(0, 150),
        liked=round(2500 * scale),
        albums=round(120 * scale),
        artists=round(90 * scale),
        owner_id=user,
        owner_name=provider.users[user],
    )
    api.set_library(user, library)
    entries = sum(len(p.entries) for p in library.playlists)
    print(
        f"  library of {user!r}: {len(library.playlists)} playlists ({entries} items), "
        f"{len(library.liked)} liked songs, {len(library.albums)} albums, "
        f"{len(library.artists)} artists (seed {seed})",
        flush=True,
    )
    rng = random.Random(seed)
    edit_lock = threading.Lock()

    def edit(changes: int) -> list[str]:
        with edit_lock:
            done = mutate_randomly(library, rng, changes)
        for change in done:
            print(f"  spotify: {user} {change}", flush=True)
        return done

    @provider.app.post("/_standin/mutate")
    def mutate() -> Any:
        """Edit the library now (``?changes=N``, default 5): for tests of ``make demo``."""
        return jsonify(edit(int(request.args.get("changes", "5"))))

    if mutate_every <= 0:
        return

    def edit_now_and_then() -> None:
        # half-way between two multiples of mutate_every (the :30 of each minute for 60 s),
        # so edits fall between the demo's once-a-minute syncs rather than into one
        while True:
            now = time.time()
            time.sleep(mutate_every * (now // mutate_every + 1.5) - now)
            edit(rng.randint(2, 6))

    threading.Thread(target=edit_now_and_then, name="library-edits", daemon=True).start()


if __name__ == "__main__":
    main()
