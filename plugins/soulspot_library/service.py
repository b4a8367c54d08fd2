"""Per-app state of the library plugin (``soulspot.api.state_for("soulspot_library")``): its
metrics, the background "Sync now" thread, the scheduled job and the health check."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any, cast

from flask import Flask, current_app

from soulspot import api
from soulspot.types import CheckResult, HealthCheck, Job

from .config import LibraryConfig
from .metrics import LibraryMetrics

log = logging.getLogger("soulspot.library")
EXTENSION = "soulspot_library"
#: APScheduler numbers weekdays from Monday = 0, cron from Sunday = 0: use names.
_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def cron_fields(expression: str) -> dict[str, str]:
    minute, hour, day, month, dow = expression.split()

    def name(part: str) -> str:
        return _WEEKDAYS[int(part)] if part.isdigit() and int(part) <= 7 else part

    if dow != "*":
        pieces = []
        for piece in dow.split(","):
            step = ""
            if "/" in piece:
                piece, step = piece.split("/", 1)
                step = "/" + step
            piece = "-".join(name(p) for p in piece.split("-"))
            pieces.append(piece + step)
        dow = ",".join(pieces)
    return {
        "minute": minute,
        "hour": hour,
        "day": day,
        "month": month,
        "day_of_week": dow,
        "timezone": "UTC",
    }


class LibraryService:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.config: LibraryConfig = api.config_for("library", app)
        self.metrics = LibraryMetrics()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- running ---------------------------------------------------------------------------

    def run_now(self, *, full: bool = False, trigger: str = "job") -> Any:
        """One sync in this thread (an app context is active); refusals are logged."""
        from .queries import counts
        from .runner import SyncRefused, sync

        try:
            outcome = sync(full=full, trigger=trigger, metrics=self.metrics)
        except SyncRefused as exc:
            log.info("library sync not started", extra={"reason": str(exc)})
            return None
        self.metrics.set_counts(counts())
        return outcome

    def start_background(self, *, full: bool = False) -> bool:
        """Start a sync on a thread (the "Sync now" button); ``False`` when one is running
        in this process already."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            app = current_app._get_current_object()  # type: ignore[attr-defined]

            def work() -> None:
                with app.app_context(), api.storage().connection():
                    try:
                        self.run_now(full=full, trigger="web")
                    except Exception:  # a thread must not die silently
                        log.exception("library sync crashed")

            self._thread = threading.Thread(target=work, name="library-sync", daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # --- scheduling ------------------------------------------------------------------------

    def job(self) -> Job | None:
        if self.config.sync_schedule == "off":
            return None

        def scheduled() -> None:
            with api.storage().connection():
                self.run_now(trigger="schedule")

        return Job(
            "library.sync",
            scheduled,
            "cron",
            cron_fields(self.config.sync_schedule),
            misfire_grace_time=3600,
        )

    def interval_seconds(self) -> float | None:
        """Seconds between two scheduled runs (from the cron expression), or ``None``."""
        if self.config.sync_schedule == "off":
            return None
        from apscheduler.triggers.cron import CronTrigger

        trigger = CronTrigger(**cron_fields(self.config.sync_schedule))
        now = dt.datetime.now(dt.UTC)
        first = trigger.get_next_fire_time(None, now)
        second = trigger.get_next_fire_time(first, first + dt.timedelta(seconds=1))
        if first is None or second is None:
            return None
        return float((second - first).total_seconds())

    def next_run(self) -> dt.datetime | None:
        if self.config.sync_schedule == "off":
            return None
        from apscheduler.triggers.cron import CronTrigger

        trigger = CronTrigger(**cron_fields(self.config.sync_schedule))
        return cast(dt.datetime | None, trigger.get_next_fire_time(None, dt.datetime.now(dt.UTC)))

    # --- health ----------------------------------------------------------------------------

    def health_check(self) -> HealthCheck:
        app = self.app

        def check() -> CheckResult:
            from .queries import last_good_run

            with app.app_context(), api.storage().connection():
                good = last_good_run()
                signed_in = api.owner_client() is not None
            interval = self.interval_seconds()
            if good is None or good.finished_at is None:
                if not signed_in:
                    return CheckResult("ok", "not signed in with Spotify yet: nothing to sync")
                return CheckResult("warn", "the library has never synced successfully")
            age = time.time() - float(good.finished_at)
            details = {"last_good_sync_age_seconds": round(age), "interval_seconds": interval}
            if interval is not None and age > 2 * interval + 600:
                hours = age / 3600
                return CheckResult(
                    "warn",
                    f"the last good library sync was {hours:.1f} h ago (schedule: every "
                    f"{interval / 3600:.1f} h)",
                    details,
                )
            return CheckResult("ok", f"last good sync {round(age)} s ago", details)

        return HealthCheck("library_sync", check, critical=False)


def service(app: Flask | None = None) -> LibraryService:
    return cast(LibraryService, api.state_for(EXTENSION, app))
