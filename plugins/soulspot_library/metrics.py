"""The library's Prometheus metrics (one set per app, registered by the metrics concern)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:  # pragma: no cover
    from .history import Applied


class LibraryMetrics:
    def __init__(self) -> None:
        self.requests = Counter(
            "soulspot_library_spotify_requests",
            "Web API calls made by library syncs, by endpoint template and HTTP status.",
            ["endpoint", "status"],
            registry=None,
        )
        self.rate_limited = Counter(
            "soulspot_library_rate_limited",
            "429 answers (rate limited) the library sync received.",
            registry=None,
        )
        self.wait_seconds = Counter(
            "soulspot_library_rate_limit_wait_seconds",
            "Seconds library syncs waited because Spotify asked them to (Retry-After).",
            registry=None,
        )
        self.changes = Counter(
            "soulspot_library_changes",
            "Changes recorded in the vault, by kind.",
            ["kind"],
            registry=None,
        )
        self.runs = Counter(
            "soulspot_library_sync_runs",
            "Library sync runs, by outcome (ok, failed, paused).",
            ["outcome"],
            registry=None,
        )
        self.duration = Histogram(
            "soulspot_library_sync_duration_seconds",
            "Wall time of library sync runs.",
            buckets=(1, 5, 15, 60, 300, 900, 3600),
            registry=None,
        )
        self.items = Gauge(
            "soulspot_library_items",
            "Items currently in the vault, by list (playlists, entries, liked, albums, artists).",
            ["list"],
            registry=None,
        )

    def collectors(self) -> list[Any]:
        return [
            self.requests,
            self.rate_limited,
            self.wait_seconds,
            self.changes,
            self.runs,
            self.duration,
            self.items,
        ]

    def response(self, endpoint: str, status: int) -> None:
        self.requests.labels(endpoint=endpoint, status=str(status)).inc()
        if status == 429:
            self.rate_limited.inc()

    def waited(self, seconds: float) -> None:
        self.wait_seconds.inc(seconds)

    def finished(self, outcome: str, duration: float, applied: Applied) -> None:
        self.runs.labels(outcome=outcome).inc()
        self.duration.observe(duration)
        for kind, count in applied.kinds.items():
            self.changes.labels(kind=kind).inc(count)

    def set_counts(self, counts: dict[str, int]) -> None:
        for name, value in counts.items():
            self.items.labels(list=name).set(value)
