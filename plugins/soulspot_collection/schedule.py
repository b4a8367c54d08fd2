"""Cron expressions for APScheduler 3, with cron's day-of-week numbering.

APScheduler 3 numbers days of the week from Monday = 0, cron from Sunday = 0; numbers are
turned into day names before a trigger is built so '0 3 * * 0' means Sunday as in cron.
"""

from __future__ import annotations

from typing import Any

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _dow_numbers(field: str) -> set[int]:
    days: set[int] = set()
    for part in field.split(","):
        rng, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if rng == "*":
            start, end = 0, 6
        elif "-" in rng:
            first, last = rng.split("-", 1)
            start, end = int(first), int(last)
        else:
            start = end = int(rng)
        if not (0 <= start <= 7 and 0 <= end <= 7 and start <= end and step >= 1):
            raise ValueError(f"day of week {part!r} is not in 0-7")
        days.update(n % 7 for n in range(start, end + 1, step))
    return days


def cron_args(expression: str) -> dict[str, Any]:
    """APScheduler cron trigger arguments for a five-field cron ``expression`` (UTC)."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"expected five fields (minute hour day month weekday), got {expression!r}"
        )
    minute, hour, day, month, dow = fields
    if dow != "*" and any(ch.isdigit() for ch in dow):
        try:
            dow = ",".join(_DAYS[n] for n in sorted(_dow_numbers(dow)))
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    args = {"minute": minute, "hour": hour, "day": day, "month": month, "day_of_week": dow}
    CronTrigger(**args, timezone="UTC")  # raises ValueError on a bad field
    return {**args, "timezone": "UTC"}
