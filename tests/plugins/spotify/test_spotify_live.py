"""The whole sign-in over real HTTP: SoulSpot served by waitress, the local provider, and a
requests session as the browser following every redirect."""

from __future__ import annotations

from collections.abc import Callable

import requests
from flask import Flask
from spotify_support import TEST_CONFIG

from soulspot import api
from soulspot.testing import LiveServer, deep_merge
from support.oauth_provider import LocalOAuthProvider


def test_sign_in_and_out_over_real_http(make_app: Callable[..., Flask]) -> None:
    with LocalOAuthProvider() as provider:
        # the port is only known once the server exists: build, then register the redirect
        app = make_app(deep_merge(TEST_CONFIG, {"plugins": {"spotify": provider.client_config()}}))
        with LiveServer(app) as live:
            callback = live.url + "/auth/callback"
            provider.client.redirect_uris.append(callback)
            api.state_for("soulspot_spotify", app).config.redirect_uri = callback
            browser = requests.Session()
            page = browser.get(live.url + "/plugins", timeout=10)
            assert page.status_code == 200
            assert page.url == live.url + "/plugins"
            assert [r.status_code for r in page.history] == [302, 302, 302, 302]
            assert "Alice Owner" in page.text
            cookie = next(c for c in browser.cookies if c.name == "soulspot_session")
            assert cookie.has_nonstandard_attr("HttpOnly") and not cookie.secure

            out = browser.post(live.url + "/auth/logout", headers={"Origin": live.url}, timeout=10)
            assert out.status_code == 200 and "signed out" in out.text
            gone = requests.get(
                live.url + "/plugins",
                cookies={"soulspot_session": cookie.value or ""},
                allow_redirects=False,
                timeout=10,
            )
            assert gone.status_code == 302
