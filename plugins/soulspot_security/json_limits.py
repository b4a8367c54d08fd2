"""Bounded JSON: every body parsed with ``request.get_json`` (``@validate(body=...)``, the CSP
report endpoint, any plugin's view) is refused with a 4xx when it is larger than
``json_max_bytes`` (413) or nested deeper than ``json_max_depth`` (400), before the parser
sees it.

Python's JSON parser recurses once per nesting level: a few kilobytes of ``[[[[...`` raise
``RecursionError``, which no ``silent=True`` catches, so it became a 500 — on
``/security/csp-report`` too, which any web page can reach cross-site (``text/plain`` POSTs
need no CORS preflight). The check runs in the app's JSON provider (Flask's documented
``app.json`` extension point), so it covers every caller of ``get_json`` without each view
knowing about it. It is one C-speed pass to count brackets; only bodies with more brackets
than the depth limit are scanned for their real depth.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from soulspot.errors import PROBLEM_TYPE_BASE, Problem

#: A JSON string literal (escapes included); removed before brackets are counted.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_OPEN = frozenset(b"[{")


def too_deeply_nested(data: bytes, limit: int) -> bool:
    """Whether arrays and objects in ``data`` nest deeper than ``limit``. Brackets inside
    strings do not count; a body with fewer brackets than ``limit`` is not scanned."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if match.group()[0] in _OPEN:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's default JSON provider with size and depth limits on ``loads``."""

    max_bytes = 1_048_576
    max_depth = 32

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        data = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else s
        if len(data) > self.max_bytes:
            raise Problem(
                413,
                "JSON body too large",
                f"The JSON body has {len(data)} bytes; at most {self.max_bytes} are accepted.",
                type_=PROBLEM_TYPE_BASE + "too-large",
            )
        if too_deeply_nested(data, self.max_depth):
            raise _too_deep(self.max_depth)
        try:
            return super().loads(s, **kwargs)
        except RecursionError:  # a limit set above what the interpreter's stack allows
            raise _too_deep(self.max_depth) from None


def _too_deep(limit: int) -> Problem:
    return Problem(
        400,
        "JSON nested too deeply",
        f"Arrays and objects in the JSON body may be nested at most {limit} levels deep.",
        type_=PROBLEM_TYPE_BASE + "json-too-deep",
    )


def install(app: Flask, max_bytes: int, max_depth: int) -> None:
    """Give ``app`` a JSON provider with these limits (keeps its other JSON settings)."""
    provider = BoundedJSONProvider(app)
    provider.max_bytes = max_bytes
    provider.max_depth = max_depth
    for name in ("ensure_ascii", "sort_keys", "compact", "mimetype"):
        setattr(provider, name, getattr(app.json, name, getattr(provider, name)))
    app.json = provider
