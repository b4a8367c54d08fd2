"""The backup metrics of one app (``registry=None``: the metrics plugin registers them)."""

from __future__ import annotations

from typing import Any


class BackupMetrics:
    """Gauges of the newest good backup, its duration, and a failure counter."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.last_success = Gauge(
            "soulspot_backup_last_success_timestamp_seconds",
            "Unix time of the newest backup that was taken and verified.",
            registry=None,
        )
        self.duration = Histogram(
            "soulspot_backup_duration_seconds",
            "Time to take and verify a backup.",
            buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
            registry=None,
        )
        self.size = Gauge(
            "soulspot_backup_size_bytes", "Size of the newest backup archive.", registry=None
        )
        self.failures = Counter(
            "soulspot_backup_failures_total",
            "Backups that failed or did not verify.",
            registry=None,
        )

    def collectors(self) -> list[Any]:
        return [self.last_success, self.duration, self.size, self.failures]
