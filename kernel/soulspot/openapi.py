"""The OpenAPI 3.1 document of the API (``GET /api/openapi.json``), generated from the same
pydantic models that validate requests.

Every route under ``/api/`` whose view carries a :class:`soulspot.validation.ApiSpec` (set by
``@validate``) becomes an operation: query parameters from the query model, the JSON body or
form from the body/form model, the success response from the response model, and
``application/problem+json`` error responses (422 for invalid input, 413 for a too large body,
401/403 for the login gate, 404 for routes with path parameters, 429 for rate limits,
500, 503). Model schemas go to ``components/schemas``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .context import is_public
from .validation import ApiSpec

_CONVERTER = re.compile(r"<(?:(?P<conv>[a-zA-Z_][a-zA-Z0-9_]*)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTER_SCHEMA: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
    "path": {"type": "string"},
    "string": {"type": "string", "pattern": "^[^/]+$"},
    "default": {"type": "string", "pattern": "^[^/]+$"},
}
_METHODS = ("get", "post", "put", "patch", "delete")

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details, with the request id.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "required": ["type", "title", "status"],
}

_ERRORS: dict[int, str] = {
    401: "Sign-in required.",
    404: "No such resource.",
    403: "Refused (cross-site request, or not from this machine without sign-in).",
    413: "Request body too large.",
    422: "Invalid input; `errors` lists each field.",
    429: "Too many requests; see Retry-After.",
    500: "Unexpected error; the request id finds it in the log.",
    503: "Maintenance (a restore is running); see Retry-After.",
}


def api_routes(app: Flask) -> list[tuple[str, str, str, ApiSpec, bool]]:
    """``(path, method, endpoint, spec, public)`` for every validated ``/api/`` route."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions.get(rule.endpoint)
        spec = getattr(view, "soulspot_api", None)
        if not isinstance(spec, ApiSpec):
            continue
        public = is_public(view)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, method.lower(), rule.endpoint, spec, public))
    return found


def build(app: Flask, *, title: str = "SoulSpot API", version: str = "") -> dict[str, Any]:
    """The OpenAPI document for ``app``'s current routes."""
    from . import __version__

    routes = api_routes(app)
    models: dict[type[BaseModel], None] = {}
    for *_ignored, spec, _public in routes:
        for model in (spec.body, spec.form, spec.response):
            if model is not None:
                models[model] = None
    keyed: list[tuple[type[BaseModel], Literal["validation"]]] = [(m, "validation") for m in models]
    refs, defs = models_json_schema(keyed, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return dict(refs[(model, "validation")])

    paths: dict[str, dict[str, Any]] = {}
    auth_on = app.extensions["soulspot"].auth is not None
    for rule, method, endpoint, spec, public in routes:
        path, path_params = _path(rule)
        op: dict[str, Any] = {
            "operationId": endpoint,
            "summary": spec.summary or endpoint,
            "tags": [endpoint.split(".")[0]],
        }
        params: list[dict[str, Any]] = list(path_params)
        if spec.query is not None:
            params.extend(_query_params(spec.query, schemas))
        if params:
            op["parameters"] = params
        if spec.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(spec.body)}},
            }
        elif spec.form is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/x-www-form-urlencoded": {"schema": ref(spec.form)}},
            }
        responses: dict[str, Any] = {}
        ok: dict[str, Any] = {"description": spec.summary or "Success"}
        if spec.response is not None:
            ok["content"] = {"application/json": {"schema": ref(spec.response)}}
        responses[str(spec.status)] = ok
        codes = {429, 500, 503}
        if spec.query or spec.body or spec.form or path_params:
            codes.add(422)
        if path_params:
            codes.add(404)
        if spec.body or spec.form or method in ("post", "put", "patch", "delete"):
            codes |= {403, 413}
        if not public:
            codes.add(401 if auth_on else 403)
        for code, description in {**{c: _ERRORS[c] for c in codes}, **spec.errors}.items():
            responses.setdefault(str(code), _problem(description))
        op["responses"] = dict(sorted(responses.items()))
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version or __version__,
            "description": (
                "Generated from the pydantic models that validate each request. Errors are "
                "RFC 9457 application/problem+json."
            ),
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params: list[dict[str, Any]] = []

    def swap(match: re.Match[str]) -> str:
        conv = match.group("conv") or "default"
        params.append(
            {
                "name": match.group("name"),
                "in": "path",
                "required": True,
                "schema": dict(_CONVERTER_SCHEMA.get(conv, {"type": "string"})),
            }
        )
        return "{" + match.group("name") + "}"

    return _CONVERTER.sub(swap, rule), params


def _query_params(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.get("$defs", {}).items():
        schemas.setdefault(name, definition)
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null(dict(prop))
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            param["description"] = description
        out.append(param)
    return out


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query string cannot say ``null``: an optional parameter is simply left out."""
    options = prop.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) != len(options):
            prop.pop("anyOf")
            if prop.get("default", "") is None:
                prop.pop("default")
            if len(kept) == 1:
                prop = {**kept[0], **prop}
            else:
                prop["anyOf"] = kept
    return prop
