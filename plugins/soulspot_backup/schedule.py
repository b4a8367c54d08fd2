"""When backups are due: the time between scheduled runs, and whether one is overdue."""

from __future__ import annotations

import datetime as dt

from .config import BackupConfig
from .folder import BackupInfo


def interval_seconds(config: BackupConfig) -> float | None:
    """The time between scheduled backups (for cron: between its next two runs); ``None``
    when backups are not scheduled."""
    if config.schedule == "interval":
        return config.interval_hours * 3600
    if config.schedule == "cron":
        from soulspot.cron import trigger

        cron = trigger(config.cron, config.timezone)
        now = dt.datetime.now(dt.UTC)
        first = cron.get_next_fire_time(None, now)
        second = cron.get_next_fire_time(first, first + dt.timedelta(seconds=1))
        if first is None or second is None:
            return None
        return float((second - first).total_seconds())
    return None


def overdue(config: BackupConfig, newest: BackupInfo | None) -> bool:
    """Whether the newest verified backup is older than the schedule's interval (no backup
    at all is overdue too): start-up then runs one at once."""
    interval = interval_seconds(config)
    if interval is None:
        return False
    if newest is None:
        return True
    age = (dt.datetime.now(dt.UTC) - newest.created_at).total_seconds()
    return age > interval
