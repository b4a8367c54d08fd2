"""The local OAuth provider itself behaves like Spotify: S256 only, single-use codes, exact
redirect URIs, refresh with and without rotation, invalid_grant, 429, /v1/me, RFC 7009."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from support.oauth_provider import LocalOAuthProvider

REDIRECT = "http://127.0.0.1:9/auth/callback"


@pytest.fixture
def idp() -> Iterator[LocalOAuthProvider]:
    with LocalOAuthProvider(redirect_uris=[REDIRECT], revocation=True) as p:
        yield p


def _client(idp: LocalOAuthProvider) -> Any:
    return OAuth2Session(
        idp.client.client_id,
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
        revocation_endpoint_auth_method="none",
    )


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _code(idp: LocalOAuthProvider, verifier: str) -> str:
    url, _ = _client(idp).create_authorization_url(idp.authorize_url, code_verifier=verifier)
    resp = requests.get(url, allow_redirects=False, timeout=10)
    return _query(resp.headers["Location"])["code"]


def _authorize(idp: LocalOAuthProvider, **params: str) -> dict[str, str]:
    base = {"client_id": idp.client.client_id, "response_type": "code", "state": "s1"}
    resp = requests.get(
        idp.authorize_url, params={**base, **params}, allow_redirects=False, timeout=10
    )
    assert resp.status_code == 302, resp.text
    return _query(resp.headers["Location"])


def test_pkce_plain_and_missing_method_are_refused(idp: LocalOAuthProvider) -> None:
    challenge = secrets.token_urlsafe(48)
    plain = _authorize(
        idp, redirect_uri=REDIRECT, code_challenge=challenge, code_challenge_method="plain"
    )
    assert plain["error"] == "invalid_request" and "S256" in plain["error_description"]
    missing = _authorize(idp, redirect_uri=REDIRECT, code_challenge=challenge)
    assert missing["error"] == "invalid_request"
    none = _authorize(idp, redirect_uri=REDIRECT)
    assert none["error"] == "invalid_request"
    assert idp.codes == {}


def test_codes_are_single_use_and_bound_to_the_verifier(idp: LocalOAuthProvider) -> None:
    verifier = secrets.token_urlsafe(48)
    code = _code(idp, verifier)
    with pytest.raises(OAuthError) as wrong:
        _client(idp).fetch_token(idp.token_url, code=code, code_verifier="x" * 50)
    assert wrong.value.error == "invalid_grant"
    code = _code(idp, verifier)
    token = _client(idp).fetch_token(idp.token_url, code=code, code_verifier=verifier)
    assert token["access_token"] and token["refresh_token"] and token["expires_in"] == 3600
    with pytest.raises(OAuthError) as replay:
        _client(idp).fetch_token(idp.token_url, code=code, code_verifier=verifier)
    assert replay.value.error == "invalid_grant"


def test_redirect_uri_must_match_exactly(idp: LocalOAuthProvider) -> None:
    resp = requests.get(
        idp.authorize_url,
        params={
            "client_id": idp.client.client_id,
            "response_type": "code",
            "redirect_uri": "http://localhost:9/auth/callback",
            "code_challenge": secrets.token_urlsafe(48),
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 400
    verifier = secrets.token_urlsafe(48)
    code = _code(idp, verifier)
    with pytest.raises(OAuthError) as other:
        _client(idp).fetch_token(
            idp.token_url, code=code, code_verifier=verifier, redirect_uri=REDIRECT + "x"
        )
    assert other.value.error == "invalid_grant"


def test_refresh_with_and_without_rotation_and_invalid_grant(idp: LocalOAuthProvider) -> None:
    verifier = secrets.token_urlsafe(48)
    token = _client(idp).fetch_token(
        idp.token_url, code=_code(idp, verifier), code_verifier=verifier
    )
    plain = requests.post(
        idp.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": idp.client.client_id,
        },
        timeout=10,
    ).json()
    assert "refresh_token" not in plain and plain["access_token"]
    idp.rotate_refresh_tokens = True
    rotated = _client(idp).refresh_token(idp.token_url, refresh_token=token["refresh_token"])
    assert rotated["refresh_token"] != token["refresh_token"]
    with pytest.raises(OAuthError) as reused:
        _client(idp).refresh_token(idp.token_url, refresh_token=token["refresh_token"])
    assert reused.value.error == "invalid_grant"
    idp.refresh_tokens_expired = True
    with pytest.raises(OAuthError) as expired:
        _client(idp).refresh_token(idp.token_url, refresh_token=rotated["refresh_token"])
    assert expired.value.error == "invalid_grant"


def test_429_with_retry_after_me_and_revocation(idp: LocalOAuthProvider) -> None:
    verifier = secrets.token_urlsafe(48)
    token = _client(idp).fetch_token(
        idp.token_url, code=_code(idp, verifier), code_verifier=verifier
    )
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    me = requests.get(idp.api_base_url + "/me", headers=bearer, timeout=10)
    assert me.json()["id"] == "alice"
    idp.rate_limit("me", count=1, retry_after=9)
    limited = requests.get(idp.api_base_url + "/me", headers=bearer, timeout=10)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "9"
    assert requests.get(idp.api_base_url + "/me", headers=bearer, timeout=10).ok
    revoked = _client(idp).revoke_token(
        idp.revocation_url, token=token["access_token"], token_type_hint="access_token"
    )
    assert revoked.status_code == 200
    assert requests.get(idp.api_base_url + "/me", headers=bearer, timeout=10).status_code == 401
    assert requests.get(idp.api_base_url + "/me", timeout=10).status_code == 401
