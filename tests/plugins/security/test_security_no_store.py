"""Issue 15 item 8: every response to a signed-in request says ``Cache-Control: no-store``
(pages and API answers hold the owner's data); anonymous pages and static files do not."""

from __future__ import annotations

from typing import Any

import requests

from support.oauth_provider import LocalOAuthProvider

BASE = "http://127.0.0.1:8765"


def _signed_in_client(make_app: Any, provider: LocalOAuthProvider) -> Any:
    app = make_app(
        {
            "plugins": {
                "spotify": provider.client_config(),
                "security": {"rate_limit_auth": "1000/minute"},
            }
        }
    )
    client = app.test_client()
    start = client.get("/auth/login?next=/", base_url=BASE)
    assert start.status_code == 302, start.get_data(as_text=True)
    hop = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert hop.status_code == 302, hop.text
    callback = client.get(hop.headers["Location"][len(BASE) :], base_url=BASE)
    assert callback.status_code in (302, 303), callback.get_data(as_text=True)
    return client


def test_signed_in_answers_are_never_stored(make_app: Any) -> None:
    with LocalOAuthProvider(redirect_uris=[BASE + "/auth/callback"]) as provider:
        client = _signed_in_client(make_app, provider)
        for path in ("/", "/plugins", "/audit", "/auth/sessions", "/api/plugins", "/api/audit"):
            resp = client.get(path, base_url=BASE)
            assert resp.status_code == 200, path
            assert resp.headers.get("Cache-Control") == "no-store", path
        # a public page seen while signed in is a signed-in answer too
        assert client.get("/health", base_url=BASE).headers["Cache-Control"] == "no-store"
        static = client.get("/static/favicon.svg", base_url=BASE)
        assert static.status_code == 200 and static.headers.get("Cache-Control") != "no-store"
        # signed out: the same page may be cached by the browser as before
        client.delete_cookie("soulspot_session", domain="127.0.0.1")
        anonymous = client.get("/auth/signed-out", base_url=BASE)
        assert anonymous.status_code == 200
        assert anonymous.headers.get("Cache-Control") != "no-store"
