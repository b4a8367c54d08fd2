"""Errors and paging objects of the Web API stand-in, shaped like Spotify's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from .webapi_objects import API

T = TypeVar("T")


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _int(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid {name}") from None
    if not low <= value <= high:
        raise ApiError(400, f"Invalid {name}")
    return value


def _url(path: str, query: dict[str, str], **changes: Any) -> str:
    merged = {**query, **{k: str(v) for k, v in changes.items()}}
    return f"{API}{path[3:]}?{urlencode(merged)}"


def page(
    path: str, query: dict[str, str], rows: Sequence[T], render: Callable[[T], Any]
) -> dict[str, Any]:
    """An offset paging object, ``limit`` 1..50 (default 20) as Spotify's; only the rows of
    the page are rendered."""
    limit = _int(query, "limit", 20, 1, 50)
    offset = _int(query, "offset", 0, 0, 100_000)
    total = len(rows)
    return {
        "href": _url(path, query, offset=offset, limit=limit),
        "items": [render(row) for row in rows[offset : offset + limit]],
        "limit": limit,
        "next": _url(path, query, offset=offset + limit, limit=limit)
        if offset + limit < total
        else None,
        "offset": offset,
        "previous": _url(path, query, offset=max(0, offset - limit), limit=limit)
        if offset > 0
        else None,
        "total": total,
    }


def cursor_page(
    path: str,
    query: dict[str, str],
    rows: Sequence[T],
    key: Callable[[T], str],
    render: Callable[[T], Any],
) -> dict[str, Any]:
    """A cursor paging object (``/me/following``) over ``rows`` sorted by ``key``: ``after``
    is the last key already seen."""
    limit = _int(query, "limit", 20, 1, 50)
    after = query.get("after")
    start = 0
    if after:
        start = next((i for i, row in enumerate(rows) if key(row) > after), len(rows))
    chunk = [render(row) for row in rows[start : start + limit]]
    more = start + limit < len(rows)
    last = key(rows[start + limit - 1]) if chunk and more else None
    return {
        "artists": {
            "href": _url(path, query, limit=limit),
            "items": chunk,
            "limit": limit,
            "next": _url(path, query, limit=limit, after=last) if last else None,
            "cursors": {"after": last},
            "total": len(rows),
        }
    }
