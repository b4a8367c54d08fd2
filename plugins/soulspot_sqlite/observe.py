"""Query timing: Prometheus metrics (one set per app) and the slow-query log."""

from __future__ import annotations

import logging
from typing import Any

from soulspot.stores import StatementListener

from .database import redact_sql

log = logging.getLogger("soulspot.sqlite")

#: Query durations are mostly tens of microseconds; slow ones reach seconds.
BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


class StoreMetrics:
    """The store's metric objects, made with ``registry=None``: the metrics plugin registers
    them in the app's own registry (so every test app starts at zero)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.query_duration = Histogram(
            "soulspot_db_query_duration_seconds",
            "Time SQLite took to execute one statement.",
            buckets=BUCKETS,
            registry=None,
        )
        self.slow_queries = Counter(
            "soulspot_db_slow_queries_total",
            "Statements slower than [plugins.sqlite] slow_query_ms.",
            registry=None,
        )
        self.cache_requests = Counter(
            "soulspot_cache_requests_total",
            "TTL cache look-ups by result.",
            ["result"],
            registry=None,
        )
        for result in ("hit", "miss", "expired"):
            self.cache_requests.labels(result=result)

    def collectors(self) -> list[Any]:
        return [self.query_duration, self.slow_queries, self.cache_requests]


class QueryObserver:
    """Called by the database after every statement."""

    def __init__(self, metrics: StoreMetrics, slow_query_ms: float) -> None:
        self.metrics = metrics
        self.slow_seconds = slow_query_ms / 1000.0
        #: Other plugins' listeners (``Storage.add_statement_listener``): tracing.
        self.listeners: tuple[StatementListener, ...] = ()

    def __call__(self, sql: str, params: Any, seconds: float, error: BaseException | None) -> None:
        self.metrics.query_duration.observe(seconds)
        for listener in self.listeners:
            try:
                listener(sql, seconds, error)
            except Exception:  # a listener must never fail a statement
                log.exception("statement listener failed")
        if seconds < self.slow_seconds:
            return
        self.metrics.slow_queries.inc()
        from soulspot.api import request_id

        shown = redact_sql(sql)
        count = len(params) if isinstance(params, list | tuple | dict) else 0
        log.warning(
            "slow query (%.1f ms): %s",
            seconds * 1000,
            shown,
            extra={
                "sql": shown,
                "params": f"[{count} redacted]",
                "duration_ms": round(seconds * 1000, 2),
                "request_id": request_id(),
                "failed": error is not None,
            },
        )
