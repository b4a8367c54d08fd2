"""The kernel's session interface builds the cookie signer once per key set, and a changed
secret key still invalidates sessions signed with the old one."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, session

from soulspot.app import CachedSessionInterface


def test_signer_is_reused_and_rebuilt_when_the_key_changes(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    assert isinstance(app.session_interface, CachedSessionInterface)

    @app.get("/_t/set")
    def set_value() -> str:
        session["n"] = 41
        return "ok"

    @app.get("/_t/get")
    def get_value() -> str:
        return str(session.get("n", "missing"))

    for view in (set_value, get_value):
        view.soulspot_public = True  # type: ignore[attr-defined]

    iface = app.session_interface
    first = iface.get_signing_serializer(app)
    assert iface.get_signing_serializer(app) is first

    client = app.test_client()
    client.get("/_t/set", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert client.get("/_t/get").get_data(as_text=True) == "41"

    app.secret_key = "another key entirely"
    assert iface.get_signing_serializer(app) is not first
    assert client.get("/_t/get").get_data(as_text=True) == "missing"
