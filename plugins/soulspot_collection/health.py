"""The non-critical health check (scan age, unreadable files) and the Prometheus collectors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, current_app, has_app_context

from soulspot import api
from soulspot.types import CheckResult

from .service import service


def collection_check(app: Flask) -> Callable[[], CheckResult]:
    def check() -> CheckResult:
        svc = service(app)
        cfg = svc.config
        if not cfg.music_dirs:
            return CheckResult("ok", "no music folders configured")
        with api.storage().connection():
            last = svc.last_finished_scan()
            files = svc.file_counts()
        details: dict[str, Any] = {**files}
        if last is None:
            return CheckResult("warn", "the music folders were never scanned", details)
        age = time.time() - float(last.finished_at or 0)
        details["scan_age_seconds"] = round(age)
        if last.error:
            details["problems"] = last.error.count("\n") + 1
        if age > cfg.max_scan_age_hours * 3600:
            return CheckResult("warn", f"the last scan is {age / 3600:.0f} h old", details)
        if files["unreadable"]:
            return CheckResult("warn", f"{files['unreadable']} files cannot be read", details)
        if last.error:
            return CheckResult("warn", "the last scan could not enter some folders", details)
        return CheckResult("ok", f"{files['files']} files, scanned {age / 60:.0f} min ago", details)

    return check


class _Collector:
    """Reads the counts from the store at scrape time (a few indexed COUNTs)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        try:
            counts, files, last = self._read()
        except Exception:  # a scrape must not fail because the store is busy
            return
        yield GaugeMetricFamily(
            "soulspot_collection_files",
            "Audio files present in the music folders.",
            value=files["files"],
        )
        yield GaugeMetricFamily(
            "soulspot_collection_unreadable_files",
            "Files that could not be read.",
            value=files["unreadable"],
        )
        tracks = GaugeMetricFamily(
            "soulspot_collection_tracks", "Spotify tracks by standing.", labels=["status"]
        )
        for status, n in sorted(counts.items()):
            tracks.add_metric([status], n)
        yield tracks
        if last is not None:
            yield GaugeMetricFamily(
                "soulspot_collection_scan_duration_seconds",
                "Duration of the last finished scan.",
                value=float(last.finished_at) - float(last.started_at),
            )
            yield GaugeMetricFamily(
                "soulspot_collection_last_scan_timestamp_seconds",
                "When the last scan finished (UNIX time).",
                value=float(last.finished_at),
            )

    def _read(self) -> tuple[dict[str, int], dict[str, int], Any]:
        svc = service(self.app)
        if has_app_context() and current_app._get_current_object() is self.app:  # type: ignore[attr-defined]
            with api.storage().connection():
                return svc.counts(), svc.file_counts(), svc.last_finished_scan()
        with self.app.app_context(), api.storage().connection():
            return svc.counts(), svc.file_counts(), svc.last_finished_scan()


def collectors(app: Flask) -> list[Any]:
    return [_Collector(app)]
