"""Cron expressions run on the days cron runs them (APScheduler 3 counts weekdays from
Monday = 0, cron from Sunday = 0), in the configured time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger

from soulspot.cron import CronError, trigger_args

#: cron weekday -> Python's weekday() (Monday = 0)
_PY = {0: 6, 1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6}
_START = dt.datetime(2026, 11, 29, 0, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))  # a Sunday


def _days(expression: str, count: int = 14) -> set[int]:
    """Python weekdays of the next ``count`` runs of ``expression``."""
    trigger = CronTrigger(**trigger_args(expression, "UTC"))
    found: set[int] = set()
    previous = None
    now = _START
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        found.add(fire.weekday())
        previous, now = fire, fire + dt.timedelta(seconds=1)
    return found


@pytest.mark.parametrize("number", range(8))
def test_every_weekday_number(number: int) -> None:
    assert _days(f"0 3 * * {number}") == {_PY[number]}


@pytest.mark.parametrize(
    ("name", "number"),
    [("sun", 0), ("mon", 1), ("tue", 2), ("wed", 3), ("thu", 4), ("fri", 5), ("SAT", 6)],
)
def test_weekday_names(name: str, number: int) -> None:
    assert _days(f"0 3 * * {name}") == {_PY[number]}


@pytest.mark.parametrize(
    ("field", "cron_days"),
    [
        ("1-5", {1, 2, 3, 4, 5}),  # weekdays: Monday to Friday, not Tuesday to Saturday
        ("0,6", {0, 6}),  # the weekend
        ("5-7", {5, 6, 0}),
        ("mon-fri", {1, 2, 3, 4, 5}),
        ("*/2", {0, 2, 4, 6}),
        ("1-5/2", {1, 3, 5}),
        ("sun,wed,5", {0, 3, 5}),
        ("*", set(range(7))),
    ],
)
def test_ranges_lists_and_steps(field: str, cron_days: set[int]) -> None:
    assert _days(f"0 3 * * {field}", count=21) == {_PY[d] for d in cron_days}


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 3 * *", "five-field"),
        ("0 3 * * 8", "not a weekday"),
        ("0 3 * * fri-mon", "backwards"),
        ("0 3 1 * 1", "either"),
        ("0 25 * * *", "not a valid cron"),
    ],
)
def test_bad_expressions_say_why(expression: str, words: str) -> None:
    with pytest.raises(CronError, match=words):
        trigger_args(expression, "UTC")


def test_time_zone_setting_and_machine_default(make_app: Any, tmp_path: Path) -> None:
    import tzlocal

    from soulspot.scheduler import collect_jobs

    berlin = make_app(
        {
            "plugins": {
                "backup": {"schedule": "cron", "cron": "0 3 * * 0", "timezone": "Europe/Berlin"}
            }
        },
        data_dir=tmp_path / "berlin",
    )
    (job,) = [j for j in collect_jobs(berlin) if j.id == "backup"]
    fire = CronTrigger(**job.trigger_args).get_next_fire_time(None, _START)
    assert fire is not None and fire.utcoffset() == dt.timedelta(hours=1)  # CET in winter
    assert (fire.weekday(), fire.hour) == (6, 3)  # Sunday, 03:00 Berlin time
    local = make_app(
        {"plugins": {"backup": {"schedule": "cron", "cron": "0 3 * * 0"}}},
        data_dir=tmp_path / "local",
    )
    (job,) = [j for j in collect_jobs(local) if j.id == "backup"]
    assert str(job.trigger_args["timezone"]) == str(tzlocal.get_localzone())


def test_unknown_time_zone_is_a_config_error(make_app: Any, tmp_path: Path) -> None:
    from soulspot.config import ConfigError

    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        make_app({"plugins": {"backup": {"timezone": "Mars/Olympus"}}}, data_dir=tmp_path)
