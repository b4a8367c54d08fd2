"""The ``user_from_token`` hook: a request with ``Authorization: Bearer`` is the token's user
(or nobody), never the cookie session's."""

from __future__ import annotations

from typing import Any

from flask import Flask

from soulspot import hookimpl
from soulspot.types import PluginManifest, User


class TokenPlugin:
    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: bearer tokens")

    @hookimpl
    def user_from_token(self, app: Flask, token: str) -> User | None:
        return User("robot", "Robot", is_owner=False) if token == "letmein" else None


def test_a_bearer_token_is_its_users_and_nobody_elses(make_app: Any) -> None:
    app = make_app(plugins=[("bearer", TokenPlugin())])  # with the spotify sign-in gate
    client = app.test_client()
    assert client.get("/api/plugins").status_code == 401
    assert (
        client.get("/api/plugins", headers={"Authorization": "Bearer letmein"}).status_code == 200
    )
    for header in ("Bearer nope", "Bearer " + "x" * 600, "Basic letmein", "Bearer"):
        assert client.get("/api/plugins", headers={"Authorization": header}).status_code == 401
    with app.test_request_context("/", headers={"Authorization": "bearer  letmein "}):
        from soulspot.api import bearer_token, current_user

        assert bearer_token() == "letmein"
        assert current_user() == User("robot", "Robot", is_owner=False)
