"""Two owner pages of the kernel: **Settings** (``/settings``: the effective configuration and
where each value comes from, as ``soulspot config show`` prints it, secrets masked) and
**API documentation** (``/api-docs``: ``/api/openapi.json`` rendered on the server).

The API page is our own template rather than a vendored Swagger UI or Redoc: it needs no
JavaScript (nothing to allow in the CSP, nothing fetched from a CDN), it is readable at a
phone's width, and it keeps a megabyte of minified assets out of the repository. The raw
document stays one link away for tools that want it.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from flask import Blueprint, current_app, render_template

from .api import config_file, effective_config, is_owner
from .errors import Problem
from .validation import PageParams, validate

bp = Blueprint("kernel_pages", __name__)


def _owner_only(what: str) -> None:
    if not is_owner():
        raise Problem(403, "Owner only", f"Only the owner of this SoulSpot may see {what}.")


def _section(key: str) -> str:
    """``kernel`` or ``plugins.<name>``: the table a key is in."""
    parts = key.split(".")
    return parts[0] if parts[0] == "kernel" else ".".join(parts[:2])


@bp.get("/settings")
@validate(query=PageParams)
def settings_page(query: PageParams) -> str:
    _owner_only("the settings")
    sections: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for row in effective_config():
        shown = json.dumps(row["value"], default=str)
        sections.setdefault(_section(row["key"]), []).append({**row, "shown": shown})
    path = config_file()
    return render_template(
        "soulspot/settings.html",
        sections=sections,
        config_file=str(path) if path is not None else None,
    )


# --- API documentation ----------------------------------------------------------------------


def describe(schema: dict[str, Any] | None) -> str:
    """A JSON schema in a few words: ``string``, ``array of Backup``, ``integer or null``."""
    if not schema:
        return "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for combo in ("anyOf", "oneOf"):
        if combo in schema:
            return " or ".join(describe(s) for s in schema[combo])
    if "allOf" in schema:
        return " and ".join(describe(s) for s in schema["allOf"])
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if kind == "array":
        return f"array of {describe(schema.get('items'))}"
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else str(kind)


def _properties(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": describe(prop),
            "required": name in required,
            "description": prop.get("description", ""),
            "default": json.dumps(prop["default"]) if "default" in prop else None,
        }
        for name, prop in (schema.get("properties") or {}).items()
    ]


def _content(content: dict[str, Any] | None) -> list[dict[str, str]]:
    return [
        {"media": media, "type": describe(body.get("schema"))}
        for media, body in (content or {}).items()
    ]


def operations(spec: dict[str, Any]) -> OrderedDict[str, list[dict[str, Any]]]:
    """The spec's operations grouped by tag, each ready for the template."""
    grouped: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for path, methods in sorted(spec.get("paths", {}).items()):
        for method, op in methods.items():
            body = op.get("requestBody") or {}
            entry = {
                "anchor": op.get("operationId", f"{method}-{path}").replace(".", "-"),
                "method": method.upper(),
                "path": path,
                "summary": op.get("summary", ""),
                "parameters": [
                    {
                        "name": p.get("name"),
                        "in": p.get("in"),
                        "required": bool(p.get("required")),
                        "type": describe(p.get("schema")),
                        "description": p.get("description", ""),
                    }
                    for p in op.get("parameters", [])
                ],
                "body": _content(body.get("content")),
                "responses": [
                    {
                        "code": code,
                        "description": r.get("description", ""),
                        "content": _content(r.get("content")),
                    }
                    for code, r in op.get("responses", {}).items()
                ],
            }
            for tag in op.get("tags") or ["other"]:
                grouped.setdefault(tag, []).append(entry)
    return grouped


@bp.get("/api-docs")
@validate(query=PageParams)
def api_docs(query: PageParams) -> str:
    from .openapi import build

    _owner_only("the API documentation")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    spec = build(app)
    schemas = [
        {"name": name, "description": s.get("description", ""), "properties": _properties(s)}
        for name, s in sorted(spec.get("components", {}).get("schemas", {}).items())
    ]
    return render_template(
        "soulspot/api_docs.html", info=spec["info"], groups=operations(spec), schemas=schemas
    )
