"""Health check, Prometheus collector and dashboard data of the replica."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from soulspot.types import CheckResult

from .source import Replica, iso
from .supervisor import describe


def details(replica: Replica) -> dict[str, Any]:
    status = replica.status()
    out: dict[str, Any] = {"replica": redacted_url(replica.cfg.replica_url)}
    out.update(describe(replica.supervisor))
    out["lag_seconds"] = round(status.lag_seconds, 1)
    if status.last_sync is not None:
        out["last_sync"] = iso(status.last_sync)
    if status.listing is not None and status.listing.window is not None:
        out["window"] = {
            "earliest": iso(status.listing.window.earliest),
            "latest": iso(status.listing.window.latest),
        }
        out["replica_bytes"] = status.listing.size
    if status.error:
        out["error"] = status.error
    return out


def redacted_url(url: str) -> str:
    """The replica URL without a user:password part (never shown)."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}{sep}{host.rpartition('@')[2]}{slash}{path}"


def health_check(replica: Replica) -> Callable[[], CheckResult]:
    def check() -> CheckResult:
        status = replica.status()
        info = details(replica)
        if status.error:
            return CheckResult("fail", f"the replica cannot be read: {status.error}", info)
        if replica.supervisor is not None and not replica.supervisor.running:
            return CheckResult("fail", "litestream is not running (restarting)", info)
        if status.lag_seconds > replica.cfg.max_lag_seconds:
            return CheckResult(
                "warn", f"the replica is {status.lag_seconds:.0f} s behind the database", info
            )
        if status.last_sync is None:
            return CheckResult("warn", "the replica holds nothing yet", info)
        return CheckResult("ok", f"replicated, last sync {iso(status.last_sync)}", info)

    return check


class ReplicationCollector:
    """Read at scrape time (the replica listing is shared for a couple of seconds)."""

    def __init__(self, replica: Replica) -> None:
        self.replica = replica

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        status = self.replica.status()
        supervisor = self.replica.supervisor
        yield GaugeMetricFamily(
            "soulspot_replication_up",
            "1 when the replica can be read (and, in soulspot serve, Litestream runs).",
            value=int(status.error is None and (supervisor is None or supervisor.running)),
        )
        yield GaugeMetricFamily(
            "soulspot_replication_lag_seconds",
            "Age of the oldest database change not yet in the replica (0: all shipped).",
            value=status.lag_seconds,
        )
        if supervisor is not None:
            yield CounterMetricFamily(
                "soulspot_replication_restarts",
                "Times Litestream exited and was started again.",
                value=supervisor.restarts,
            )
        listing = status.listing
        if listing is None:
            return
        yield GaugeMetricFamily(
            "soulspot_replication_replica_bytes",
            "Bytes the replica holds (every Litestream file, all compaction levels).",
            value=listing.size,
        )
        if listing.window is None:
            return
        yield GaugeMetricFamily(
            "soulspot_replication_last_sync_timestamp_seconds",
            "When the newest change reached the replica (Unix time, 1 s precision).",
            value=listing.window.latest.timestamp(),
        )
        yield GaugeMetricFamily(
            "soulspot_replication_window_start_timestamp_seconds",
            "The earliest moment the database can be restored to (Unix time).",
            value=listing.window.earliest.timestamp(),
        )
        yield GaugeMetricFamily(
            "soulspot_replication_window_seconds",
            "Length of the restorable window (seconds between earliest and latest moment).",
            value=(listing.window.latest - listing.window.earliest).total_seconds(),
        )


def panel_data(replica: Replica) -> dict[str, Any]:
    status = replica.status()
    window = status.listing.window if status.listing is not None else None
    return {
        "window": (iso(window.earliest), iso(window.latest)) if window else None,
        "lag": round(status.lag_seconds),
        "fresh": status.error is None and status.lag_seconds <= replica.cfg.max_lag_seconds,
        "error": status.error,
        "running": None if replica.supervisor is None else replica.supervisor.running,
    }
