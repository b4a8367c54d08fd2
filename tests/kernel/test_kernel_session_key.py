"""``soulspot.api.current_session_key()``: which session a request is, for the rate limits
(issue 15: signed-in requests are limited per session, never per address)."""

from __future__ import annotations

from typing import Any

from soulspot import api
from soulspot.testing import session_cookies


def test_one_key_per_valid_session_and_none_otherwise(make_app: Any) -> None:
    app = make_app()
    first, second = session_cookies(app, "owner"), session_cookies(app, "owner")
    store = app.extensions["soulspot"].storage

    def key(cookies: dict[str, str], **headers: str) -> str | None:
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        context = app.test_request_context("/", headers={"Cookie": cookie, **headers})
        with context, store.connection():
            return api.current_session_key()

    assert key(first) is not None and key(first) == key(first)
    assert key(second) not in (None, key(first))
    assert key({}) is None
    assert key({"soulspot_session": "made-up"}) is None
    # a bearer request is never its cookie's session
    assert key(first, Authorization="Bearer ssp_x") is None
    with app.app_context(), api.maintenance("test"):
        assert key(first) is None  # no session is looked up while the store may be replaced
    with app.app_context():
        assert api.current_session_key() is None  # outside a request
