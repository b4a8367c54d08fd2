"""A request takes a pooled connection only when it queries, and gives it back at teardown:
health probes and other database-free requests never touch the pool."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Flask, jsonify

from soulspot import api, hookimpl
from soulspot.types import PluginManifest

#: The connections the query view used, in order.
OPENED: list[Any] = []


class PoolProbePlugin:
    """Routes that report whether this thread holds a connection while the view runs."""

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: pool probe")

    @hookimpl
    def register_blueprints(self, app: Flask) -> Iterable[Blueprint]:
        bp = Blueprint("poolprobe", __name__)

        @bp.get("/_pool/idle")
        @api.public
        def idle() -> Any:
            return jsonify(holds=not _db().is_closed())

        @bp.get("/_pool/query")
        @api.public
        def query() -> Any:
            before = not _db().is_closed()
            value = api.storage().settings.get("missing", "none")
            OPENED.append(_db().connection())  # peewee's documented accessor
            return jsonify(before=before, after=not _db().is_closed(), value=value)

        return [bp]


def _db() -> Any:
    return api.storage().database  # type: ignore[attr-defined]


def test_requests_take_a_connection_only_when_they_query(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(plugins=[("poolprobe", PoolProbePlugin())])
    db = app.extensions["soulspot"].storage.database
    OPENED.clear()
    client = app.test_client()

    assert client.get("/health/live").status_code == 200
    assert client.get("/_pool/idle").get_json() == {"holds": False}
    assert db.is_closed()  # nothing checked out

    answer = client.get("/_pool/query").get_json()
    assert answer == {"before": False, "after": True, "value": "none"}
    assert db.is_closed()  # given back at teardown

    # the connection given back is reused by the next query, not a new one
    assert client.get("/_pool/query").status_code == 200
    assert OPENED[-1] is OPENED[-2]
