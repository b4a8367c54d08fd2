"""Five-field cron expressions that mean what cron means, as APScheduler 3 trigger arguments.

APScheduler 3 numbers weekdays from Monday = 0; cron numbers them from Sunday = 0 (and 7 is
Sunday too). Handing a cron day-of-week field to APScheduler unchanged runs ``0 3 * * 0`` on
Mondays and ``1-5`` from Tuesday to Saturday. So the day-of-week field is parsed here (numbers,
names, ranges, lists, steps) and handed over as weekday *names*, which both agree on.

Cron runs a job when *either* a restricted day of month or a restricted day of week matches;
APScheduler requires both. That combination is refused with a message instead of being run on
the wrong days.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

#: Cron's weekday numbers (0 and 7: Sunday) to the names APScheduler reads.
_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_BY_NAME = {name: number for number, name in enumerate(_NAMES)}


class CronError(ValueError):
    """A cron expression SoulSpot cannot run as cron would (the message says why)."""


def _weekday(token: str, field: str) -> int:
    token = token.strip().lower()
    if token in _BY_NAME:
        return _BY_NAME[token]
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)  # 7 (Sunday) stays 7 so that '5-7' is a forward range
    raise CronError(
        f"day-of-week {field!r}: {token!r} is not a weekday (expected 0-7, Sunday = 0 or 7, "
        "or sun, mon, tue, wed, thu, fri, sat)"
    )


def weekdays(field: str) -> set[int]:
    """The cron weekday numbers (0 = Sunday .. 6) a day-of-week field selects."""
    days: set[int] = set()
    for part in field.split(","):
        if not part:
            raise CronError(f"day-of-week {field!r}: empty list element")
        span, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"day-of-week {field!r}: step {step_text!r} is not a number >= 1")
            step = int(step_text)
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            low, _, high = span.partition("-")
            first, last = _weekday(low, field), _weekday(high, field)
            if last < first:
                raise CronError(
                    f"day-of-week {field!r}: range {span!r} runs backwards (cron ranges do "
                    "not wrap around the week; write it as a list, e.g. 'fri,sat,sun')"
                )
        else:
            first = _weekday(span, field)
            last = 6 if step_text else first
        days.update(day % 7 for day in range(first, last + 1, step))
    return days


def trigger_args(expression: str, timezone: str | None = None) -> dict[str, Any]:
    """Keyword arguments of an APScheduler 3 ``cron`` trigger for a five-field expression
    (minute hour day-of-month month day-of-week), in ``timezone`` (an IANA name; ``None``
    or empty: the machine's local zone)."""
    fields = expression.split()
    if len(fields) != 5:
        raise CronError(
            f"{expression!r} is not a five-field cron expression "
            "(minute hour day-of-month month day-of-week, e.g. '0 3 * * *')"
        )
    minute, hour, day, month, day_of_week = fields
    args: dict[str, Any] = {
        "minute": minute,
        "hour": hour,
        "day": day,
        "month": month,
        "timezone": zone(timezone),
    }
    if day_of_week != "*":
        if day not in ("*", "?"):
            raise CronError(
                f"{expression!r} restricts both the day of month and the day of week; cron "
                "then runs on days matching either, which SoulSpot's scheduler cannot do. "
                "Restrict only one of them."
            )
        args["day_of_week"] = ",".join(_NAMES[d] for d in sorted(weekdays(day_of_week)))
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger(**args)
    except ValueError as exc:
        raise CronError(f"{expression!r} is not a valid cron expression: {exc}") from None
    return args


def trigger(expression: str, timezone: str | None = None) -> Any:
    """The APScheduler ``CronTrigger`` of ``expression`` (see :func:`trigger_args`)."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(**trigger_args(expression, timezone))


def zone(name: str | None) -> dt.tzinfo:
    """The IANA zone ``name``, or the machine's local zone when ``name`` is empty."""
    if not name:
        import tzlocal

        return tzlocal.get_localzone()
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise CronError(
            f"unknown time zone {name!r} (expected an IANA name such as 'Europe/Berlin' or "
            "'UTC'; leave it empty for this machine's zone)"
        ) from None
