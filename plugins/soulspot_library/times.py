"""WHEN arguments: an ISO 8601 date or time, in UTC unless it says otherwise."""

from __future__ import annotations

import datetime as dt


class BadTime(ValueError):
    pass


#: The latest moment shown (a year-9999 WHEN means "at the end of time").
LAST = dt.datetime(9999, 12, 30, tzinfo=dt.UTC)
#: The earliest (before Spotify existed: the vault was empty then).
FIRST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)


def parse_when(text: str, what: str = "WHEN") -> float:
    """UNIX seconds for ``text``. A moment is as precise as it is written and covers its
    whole unit: a date alone means the end of that day (UTC), "as of 2026-03-01" being the
    vault as it stood when that day was over; a time to the second, the end of that second
    (so a version shown as ``...T18:30:05.123Z`` includes itself)."""
    raw = _six_digits(text.strip().upper())
    try:
        if not any(sep in raw for sep in ("T", " ", ":")):  # a date alone, any ISO form
            day = dt.date.fromisoformat(raw)  # 2026-03-01, 20260301, 2026-W09-7, 2026-060
            moment = min(dt.datetime.combine(day, dt.time.max, dt.UTC), LAST)
        else:
            moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            rest = _rest_of_unit(raw)
            moment = LAST if moment >= LAST - rest else moment + rest
    except (ValueError, OverflowError):
        raise BadTime(
            f"{what} {text!r} is not an ISO 8601 date or time (expected e.g. 2026-03-01 or "
            "2026-03-01T18:30:00Z)"
        ) from None
    return max(moment, FIRST).timestamp()


def _six_digits(raw: str) -> str:
    """Python reads at most microseconds; RFC 3339 allows any number of digits."""
    head, dot, rest = raw.partition(".")
    if not dot:
        return raw
    digits = len(rest) - len(rest.lstrip("0123456789"))
    return head + dot + rest[: min(digits, 6)] + rest[digits:]


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
