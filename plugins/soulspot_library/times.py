"""WHEN arguments: an ISO 8601 date or time, in UTC unless it says otherwise."""

from __future__ import annotations

import datetime as dt


class BadTime(ValueError):
    pass


def parse_when(text: str, what: str = "WHEN") -> float:
    """UNIX seconds for ``text``. A date alone means the end of that day (UTC): "as of
    2026-03-01" is the vault as it stood when that day was over."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            moment = dt.datetime.combine(day, dt.time.max, dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
    except ValueError:
        raise BadTime(
            f"{what} {text!r} is not an ISO 8601 date or time (expected e.g. 2026-03-01 or "
            "2026-03-01T18:30:00Z)"
        ) from None
    return moment.timestamp()


def iso(ts: float | None) -> str:
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def names(artists_json: str | None) -> str:
    """A JSON list of artist names, for display."""
    import json

    if not artists_json:
        return ""
    return ", ".join(str(a) for a in json.loads(artists_json))
