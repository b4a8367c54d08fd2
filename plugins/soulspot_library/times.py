"""WHEN arguments: an ISO 8601 date or time, in UTC unless it says otherwise."""

from __future__ import annotations

import datetime as dt


class BadTime(ValueError):
    pass


def parse_when(text: str, what: str = "WHEN") -> float:
    """UNIX seconds for ``text``. A moment is as precise as it is written and covers its
    whole unit: a date alone means the end of that day (UTC), "as of 2026-03-01" being the
    vault as it stood when that day was over; a time to the second, the end of that second
    (so a version shown as ``...T18:30:05.123Z`` includes itself)."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            moment = dt.datetime.combine(day, dt.time.max, dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            moment += _rest_of_unit(raw)
    except ValueError:
        raise BadTime(
            f"{what} {text!r} is not an ISO 8601 date or time (expected e.g. 2026-03-01 or "
            "2026-03-01T18:30:00Z)"
        ) from None
    return moment.timestamp()


def _rest_of_unit(raw: str) -> dt.timedelta:
    clock = raw.split("T", 1)[1] if "T" in raw else raw.split(" ", 1)[-1]
    clock = clock.rstrip("Z").split("+")[0].split("-")[0]
    digits = len(clock.split(".", 1)[1]) if "." in clock else 0
    if ":" not in clock:
        return dt.timedelta(hours=1) - dt.timedelta(microseconds=1)
    if clock.count(":") == 1 and not digits:
        return dt.timedelta(minutes=1) - dt.timedelta(microseconds=1)
    if digits >= 6:
        return dt.timedelta(0)
    return dt.timedelta(microseconds=10 ** (6 - digits) - 1)


def iso_ms(ts: float) -> str:
    """A version's moment, to the millisecond (two syncs a second apart stay apart)."""
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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
