"""Kernel request path: the session cookie signer is built once per key set (a changed key
still invalidates old sessions), and request hooks are checked for async once."""

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


def test_request_hooks_are_checked_for_async_once(make_app: Callable[..., Flask]) -> None:
    from soulspot.app import SoulSpotFlask

    app = make_app()
    assert isinstance(app, SoulSpotFlask)
    assert app.test_client().get("/health/ready").status_code in (200, 503)
    hook = app.before_request_funcs[None][0]
    assert app._sync_cache[hook] is hook  # cached while serving, plain functions as-is

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self) -> str:
            return "ok"

    target = Unhashable()
    assert app.ensure_sync(target) is target  # still works, just not cached
