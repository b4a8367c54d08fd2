"""``soulspot.openapi``: the API document built from ``@validate`` metadata, with no plugin
but one registered in code (the kernel never needs the security plugin for it)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify
from pydantic import BaseModel, ConfigDict, Field

from soulspot import hookimpl
from soulspot.types import PluginManifest
from soulspot.validation import validate

ALL = [
    "sqlite",
    "spotify",
    "observability",
    "metrics",
    "security",
    "backup",
    "library",
    "collection",
]


class ItemQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag: str | None = Field(None, description="Only items with this tag.")
    limit: int = Field(10, ge=1, le=100)


class ItemOut(BaseModel):
    id: int
    tag: str | None


class Items:
    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: items")

    @hookimpl
    def register_blueprints(self, app: Flask) -> list[Blueprint]:
        bp = Blueprint("items", __name__)

        @bp.get("/api/items/<int:item_id>")
        @validate(query=ItemQuery, response=ItemOut, summary="One item")
        def item(item_id: int, query: ItemQuery) -> Any:
            return jsonify(id=item_id, tag=query.tag)

        @bp.get("/api/unvalidated")
        def unvalidated() -> Any:
            return jsonify(ok=True)

        @bp.post("/items/form")
        @validate(form=ItemQuery)
        def form(form: ItemQuery) -> str:
            return "ok"

        return [bp]


def test_document_from_validate_metadata(make_app: Any) -> None:
    app = make_app(disable=ALL, plugins=[("items", Items())])
    resp = app.test_client().get("/api/openapi.json")
    assert resp.status_code == 200
    doc = resp.json
    assert doc["openapi"] == "3.1.0"
    paths = doc["paths"]
    # only validated /api/ routes: not the unvalidated one, not UI form routes
    assert set(paths) == {"/api/items/{item_id}", "/api/plugins", "/api/openapi.json"}
    op = paths["/api/items/{item_id}"]["get"]
    assert op["operationId"] == "items.item" and op["summary"] == "One item"
    params = {p["name"]: p for p in op["parameters"]}
    assert params["item_id"] == {
        "name": "item_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    # an optional query parameter is simply optional: no null a query string cannot express
    assert params["tag"]["required"] is False
    assert params["tag"]["schema"] == {"type": "string"}
    assert params["tag"]["description"] == "Only items with this tag."
    assert params["limit"]["schema"]["maximum"] == 100
    assert set(op["responses"]) == {"200", "403", "404", "422", "429", "500", "503"}
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/ItemOut"}
    assert "ItemOut" in doc["components"]["schemas"]
    assert "Problem" in doc["components"]["schemas"]
    plugins = paths["/api/plugins"]["get"]["responses"]["200"]["content"]["application/json"]
    assert plugins["schema"] == {"$ref": "#/components/schemas/PluginList"}


def test_kernel_api_refuses_unknown_query_parameters(make_app: Any) -> None:
    app = make_app(disable=ALL)
    client = app.test_client()
    assert client.get("/api/plugins").status_code == 200
    bad = client.get("/api/plugins?verbose=1")
    assert bad.status_code == 422
    assert bad.json["errors"][0]["loc"] == ["verbose"]
    # pages ignore query strings they do not read (tracking tags, old bookmarks)
    assert client.get("/plugins?utm_source=x").status_code == 200
