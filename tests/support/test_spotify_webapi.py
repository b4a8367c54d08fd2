"""The Web API stand-in enforces the Development-Mode rules it claims to (a lenient stand-in
would let the library plugin pass tests that the real Spotify fails)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from support.oauth_provider import LocalOAuthProvider
from support.spotify_webapi import LIBRARY_SCOPES, SpotifyWebAPI, generate_library
from support.webapi_generate import mutate_randomly
from support.webapi_library import LibraryState

ALL_SCOPES = " ".join(LIBRARY_SCOPES)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[LocalOAuthProvider, SpotifyWebAPI]]:
    with LocalOAuthProvider(redirect_uris=["http://127.0.0.1:9/cb"]) as provider:
        yield provider, SpotifyWebAPI.attach(provider)


@pytest.fixture
def api(server: tuple[LocalOAuthProvider, SpotifyWebAPI]) -> Iterator[SpotifyWebAPI]:
    _provider, api = server
    library = generate_library(
        seed=3,
        playlists=6,
        items=(60, 120),
        liked=130,
        albums=7,
        artists=120,
        foreign_playlists=1,
        collaborative_playlists=1,
    )
    api.set_library("alice", library)
    api.reset_log()
    yield api
    api.clear_faults()
    api.latency = 0.0
    api.rolling_limit = None


@pytest.fixture
def token(server: tuple[LocalOAuthProvider, SpotifyWebAPI]) -> str:
    return server[0].issue_access_token("alice", ALL_SCOPES)


def get(api: SpotifyWebAPI, url: str, token: str | None, **params: Any) -> requests.Response:
    if not url.startswith("http"):
        url = api.provider.url + url
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, params=params, headers=headers, timeout=10)


def owned(api: SpotifyWebAPI, *, readable: bool = True) -> str:
    lib = api.library("alice")
    return next(
        p.id for p in lib.playlists if lib.readable(p) == readable and (not readable or p.entries)
    )


PAGED = [
    "/v1/me/playlists",
    "/v1/me/tracks",
    "/v1/me/albums",
    "/v1/me/following?type=artist",
    "/v1/playlists/{own}/items",
]


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("limit", ["51", "0", "many"])
def test_limit_outside_1_to_50_is_a_400(
    api: SpotifyWebAPI, token: str, path: str, limit: str
) -> None:
    answer = get(api, path.format(own=owned(api)), token, limit=limit)
    assert answer.status_code == 400
    assert answer.json() == {"error": {"status": 400, "message": "Invalid limit"}}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/playlists/{own}/tracks",
        "/v1/tracks?ids=a,b",
        "/v1/albums?ids=a",
        "/v1/artists?ids=a",
        "/v1/recommendations?seed_artists=a",
    ],
)
def test_endpoints_removed_for_development_mode_are_403(
    api: SpotifyWebAPI, token: str, path: str
) -> None:
    answer = get(api, path.format(own=owned(api)), token)
    assert answer.status_code == 403


def test_a_foreign_playlist_keeps_its_metadata_but_its_items_are_403(
    api: SpotifyWebAPI, token: str
) -> None:
    foreign = owned(api, readable=False)
    meta = get(api, f"/v1/playlists/{foreign}", token)
    assert meta.status_code == 200 and meta.json()["owner"]["id"] != "alice"
    assert meta.json()["snapshot_id"]
    assert get(api, f"/v1/playlists/{foreign}/items", token).status_code == 403
    lib = api.library("alice")
    collaborative = next(p for p in lib.playlists if p.collaborative)
    assert collaborative.owner_id != "alice"
    assert get(api, f"/v1/playlists/{collaborative.id}/items", token).status_code == 200


def test_offset_paging_follows_next_to_every_item_in_order(api: SpotifyWebAPI, token: str) -> None:
    playlist = api.library("alice").playlist(owned(api))
    url: str | None = f"/v1/playlists/{playlist.id}/items?limit=50"
    seen: list[Any] = []
    while url:
        body = get(api, url, token).json()
        assert body["total"] == len(playlist.entries) and body["limit"] == 50
        seen += body["items"]
        url = body["next"]
        assert url is None or url.startswith(api.provider.url + "/v1/")
    assert len(seen) == len(playlist.entries)
    assert [e["item"] and e["item"]["uri"] for e in seen] == [
        e.item and e.item.uri for e in playlist.entries
    ]
    assert api.count("/v1/playlists/*/items") == -(-len(playlist.entries) // 50)
    assert all("track" not in e for e in seen)  # 2026: the object is under "item"


def test_cursor_paging_of_followed_artists_is_complete(api: SpotifyWebAPI, token: str) -> None:
    url: str | None = "/v1/me/following?type=artist&limit=50"
    ids: list[str] = []
    while url:
        body = get(api, url, token).json()["artists"]
        ids += [a["id"] for a in body["items"]]
        assert body["cursors"]["after"] == (ids[-1] if body["next"] else None)
        url = body["next"]
    assert sorted(ids) == sorted(api.library("alice").artists) and len(set(ids)) == 120
    assert api.count("/v1/me/following") == 3
    assert get(api, "/v1/me/following", token).status_code == 400  # type=artist is required


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/v1/me/playlists", "playlist-read-private"),
        ("/v1/playlists/{own}", "playlist-read-private"),
        ("/v1/me/tracks", "user-library-read"),
        ("/v1/me/albums", "user-library-read"),
        ("/v1/me/following?type=artist", "user-follow-read"),
    ],
)
def test_a_missing_scope_is_403_insufficient_client_scope(
    server: tuple[LocalOAuthProvider, SpotifyWebAPI], api: SpotifyWebAPI, path: str, scope: str
) -> None:
    own = api.library("alice")
    private = next(p.id for p in own.playlists if p.owner_id == "alice" and not p.public)
    fewer = server[0].issue_access_token("alice", " ".join(s for s in LIBRARY_SCOPES if s != scope))
    answer = get(api, path.format(own=private), fewer)
    assert answer.status_code == 403
    assert answer.json() == {"error": {"status": 403, "message": "Insufficient client scope"}}
    assert get(api, path.format(own=private), server[0].issue_access_token("alice", scope)).ok


def test_tokens_are_checked(api: SpotifyWebAPI, token: str) -> None:
    assert get(api, "/v1/me/tracks", None).status_code == 401
    assert get(api, "/v1/me/tracks", "not-a-token").status_code == 401
    assert get(api, "/v1/me", token).json()["id"] == "alice"
    api.expire_tokens_now()
    answer = get(api, "/v1/me/tracks", token)
    assert answer.status_code == 401 and "expired" in answer.json()["error"]["message"]


def test_objects_carry_none_of_the_removed_fields(api: SpotifyWebAPI, token: str) -> None:
    liked = get(api, "/v1/me/tracks", token, limit=50).json()
    assert liked["total"] == 130 and len(liked["items"]) == 50
    first = liked["items"][0]
    assert set(first) == {"added_at", "track"} and first["added_at"].endswith("Z")
    text = str(liked) + str(get(api, "/v1/me/albums", token).json())
    for gone in ("external_ids", "popularity", "available_markets"):
        assert gone not in text
    playlists = get(api, "/v1/me/playlists", token, limit=50).json()["items"]
    assert all("tracks" not in p and isinstance(p["items"]["total"], int) for p in playlists)


@pytest.mark.parametrize("retry_after", [2, None, 86400])
def test_rate_limit_answers_429_with_or_without_retry_after(
    api: SpotifyWebAPI, token: str, retry_after: int | None
) -> None:
    api.rate_limit("/v1/me/tracks*", times=2, retry_after=retry_after)
    for _ in range(2):
        answer = get(api, "/v1/me/tracks", token)
        assert answer.status_code == 429
        assert answer.headers.get("Retry-After") == (
            None if retry_after is None else str(retry_after)
        )
    assert get(api, "/v1/me/albums", token).ok  # other paths are not limited
    assert get(api, "/v1/me/tracks", token).ok
    assert [r.status for r in api.requests] == [429, 429, 200, 200]


def test_fail_and_malform_apply_as_many_times_as_asked(api: SpotifyWebAPI, token: str) -> None:
    api.fail("/v1/me/albums", status=503, times=1)
    api.malform("/v1/me/tracks", lambda body: {**body, "items": "not a list"})
    assert get(api, "/v1/me/albums", token).status_code == 503
    assert get(api, "/v1/me/albums", token).ok
    assert get(api, "/v1/me/tracks", token).json()["items"] == "not a list"
    assert isinstance(get(api, "/v1/me/tracks", token).json()["items"], list)


def test_latency_and_rolling_window(api: SpotifyWebAPI, token: str) -> None:
    api.latency = 0.05
    started = time.monotonic()
    get(api, "/v1/me", token)
    assert time.monotonic() - started >= 0.05
    api.latency = 0.0
    api.rolling_limit = 2
    assert get(api, "/v1/me", token).ok and get(api, "/v1/me", token).ok
    limited = get(api, "/v1/me", token)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 30


def test_fields_filter(api: SpotifyWebAPI, token: str) -> None:
    own = owned(api)
    assert set(
        get(api, f"/v1/playlists/{own}", token, fields="snapshot_id,items.total").json()
    ) == {"snapshot_id", "items"}
    body = get(api, f"/v1/playlists/{own}/items", token, fields="total,items(added_at)").json()
    assert set(body) == {"total", "items"} and set(body["items"][0]) == {"added_at"}
    assert get(api, f"/v1/playlists/{own}", token, fields="items(total").status_code == 400


def test_mutations_change_answers_and_snapshot_ids(api: SpotifyWebAPI, token: str) -> None:
    lib = api.library("alice")
    own = owned(api)
    before = get(api, f"/v1/playlists/{own}", token).json()["snapshot_id"]
    lib.add_items(
        own, [lib.make_track("Añadida"), None, lib.make_episode(), lib.make_local_track()]
    )
    after = get(api, f"/v1/playlists/{own}", token).json()
    assert after["snapshot_id"] != before
    last = get(api, f"/v1/playlists/{own}/items", token, offset=after["items"]["total"] - 4).json()
    kinds = [e["item"] and (e["item"]["type"], e["item"]["is_local"]) for e in last["items"]]
    assert kinds == [("track", False), None, ("episode", False), ("track", True)]
    assert last["items"][3]["is_local"] is True and last["items"][3]["item"]["id"] is None
    new = lib.create_playlist("Nouvelle 🎶")
    assert get(api, "/v1/me/playlists", token, limit=1).json()["items"][0]["id"] == new
    lib.delete_playlist(new)
    assert get(api, f"/v1/playlists/{new}", token).status_code == 404
    track = lib.liked[0][0]
    lib.unlike(str(track.id))
    assert get(api, "/v1/me/tracks", token).json()["total"] == 129


def test_generated_libraries_are_seeded_and_realistic() -> None:
    one = generate_library(seed=11, playlists=40, items=(0, 200), liked=300, artists=60)
    two = generate_library(seed=11, playlists=40, items=(0, 200), liked=300, artists=60)

    def snapshot(lib: LibraryState) -> list[Any]:
        return [
            (p.id, p.name, p.snapshot_id, [e.item and e.item.uri for e in p.entries])
            for p in lib.playlists
        ]

    assert snapshot(one) == snapshot(two)
    entries = [e for p in one.playlists for e in p.entries]
    assert any(e.item is None for e in entries)
    assert any(e.item is not None and getattr(e.item, "is_local", False) for e in entries)
    names = " ".join(t.name for t, _ in one.liked) + " ".join(a.name for a in one.artists.values())
    assert "feat." in names and any(ord(c) > 127 for c in names)
    assert any(
        len({e.item.uri for e in p.entries if e.item}) < len([e for e in p.entries if e.item])
        for p in one.playlists
    )  # a track twice in one playlist
    assert [at for _, at in one.liked] == sorted((at for _, at in one.liked), reverse=True)
    assert sum(not one.readable(p) for p in one.playlists) == 5
    assert (
        one.minimum_requests()
        == 1 + sum(-(-len(p.entries) // 50) for p in one.playlists if one.readable(p)) + 6 + 6 + 2
    )


def test_random_mutations_are_reported() -> None:
    import random

    lib: LibraryState = generate_library(seed=5, playlists=8, items=(3, 10), liked=20, artists=5)
    changes = mutate_randomly(lib, random.Random(1), 12)
    assert len(changes) == 12 and all(isinstance(c, str) and c for c in changes)


def sign_in_through(provider: LocalOAuthProvider, scope: str) -> dict[str, Any]:
    """A PKCE sign-in by hand (auto-approve): the token response."""
    import base64
    import hashlib
    import secrets
    from urllib.parse import parse_qs, urlparse

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    redirect = provider.client.redirect_uris[0]
    answer = requests.get(
        provider.authorize_url,
        params={
            "response_type": "code",
            "client_id": provider.client.client_id,
            "redirect_uri": redirect,
            "scope": scope,
            "state": "s",
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
        timeout=10,
    )
    code = parse_qs(urlparse(answer.headers["Location"]).query)["code"][0]
    token = requests.post(
        provider.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": provider.client.client_id,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    return dict(token.json())


def test_a_sign_in_with_fewer_scopes_is_refused_what_it_lacks(
    server: tuple[LocalOAuthProvider, SpotifyWebAPI], api: SpotifyWebAPI
) -> None:
    provider = server[0]
    provider.granted_scopes = {"user-read-private", "user-library-read"}
    try:
        old = sign_in_through(provider, "user-read-private " + ALL_SCOPES)
    finally:
        provider.granted_scopes = None
    assert set(old["scope"].split()) == {"user-read-private", "user-library-read"}
    assert get(api, "/v1/me/tracks", old["access_token"]).ok
    assert get(api, "/v1/me/playlists", old["access_token"]).status_code == 403
    full = sign_in_through(provider, ALL_SCOPES)
    assert get(api, "/v1/me/playlists", full["access_token"]).ok


def test_faults_can_wait_for_a_given_call(api: SpotifyWebAPI, token: str) -> None:
    api.fail("/v1/me/tracks", status=502, after=2)
    api.expire_tokens_after(4)
    seen: list[int] = []
    api.on_request = lambda record: seen.append(record.status)
    try:
        statuses = [get(api, "/v1/me/tracks", token).status_code for _ in range(5)]
    finally:
        api.on_request = None
    assert statuses == [200, 200, 502, 200, 401]
    assert seen == statuses
