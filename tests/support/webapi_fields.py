"""Spotify's ``fields`` filter: ``fields=snapshot_id,items.total`` or
``fields=items(added_at,item(id,name)),next`` keeps only the named parts of an answer."""

from __future__ import annotations

from typing import Any

Selection = dict[str, "Selection | None"]  # None: keep the whole value


def parse_fields(text: str) -> Selection:
    """Parse a ``fields`` expression; raises ``ValueError`` on unbalanced parentheses."""
    selection, rest = _parse(text.replace(" ", ""), 0)
    if rest != len(text.replace(" ", "")):
        raise ValueError(f"unbalanced parentheses in fields={text!r}")
    return selection


def _parse(text: str, at: int) -> tuple[Selection, int]:
    selection: Selection = {}
    name = ""
    while at < len(text):
        char = text[at]
        if char == "(":
            inner, at = _parse(text, at + 1)
            if at >= len(text) or text[at] != ")":
                raise ValueError(f"unbalanced parentheses in fields={text!r}")
            _add(selection, name, inner)
            name = ""
        elif char == ")":
            break
        elif char == ",":
            if name:
                _add(selection, name, None)
            name = ""
        else:
            name += char
        at += 1
    if name:
        _add(selection, name, None)
    return selection, at


def _add(selection: Selection, dotted: str, inner: Selection | None) -> None:
    head, _, tail = dotted.partition(".")
    if tail:
        child = selection.get(head) or {}
        _add(child, tail, inner)
        selection[head] = child
    else:
        selection[head] = inner


def apply_fields(value: Any, selection: Selection | None) -> Any:
    if selection is None:
        return value
    if isinstance(value, list):
        return [apply_fields(item, selection) for item in value]
    if isinstance(value, dict):
        return {k: apply_fields(value[k], sub) for k, sub in selection.items() if k in value}
    return value


def select_fields(value: Any, fields: str | None) -> Any:
    """``value`` filtered by a ``fields`` query parameter (``None``/empty: unchanged)."""
    if not fields:
        return value
    return apply_fields(value, parse_fields(fields))
