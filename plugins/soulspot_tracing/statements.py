"""One span per SQL statement, from the store's statement listener.

Not ``opentelemetry-instrumentation-sqlite3``: it replaces ``sqlite3.connect`` process-wide
with a proxy object, and SQLite's online backup API (``Connection.backup``) refuses anything
but a real ``sqlite3.Connection`` — backups and restores would break. The store already times
every statement; the span is made afterwards with the statement's real start and end.
"""

from __future__ import annotations

import time

from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from soulspot.stores import StatementListener


def statement_spans(tracer: Tracer) -> StatementListener:
    def listener(sql: str, seconds: float, error: BaseException | None) -> None:
        end = time.time_ns()
        name = sql.split(None, 1)[0].upper() if sql.strip() else "SQL"
        span = tracer.start_span(
            name,
            kind=SpanKind.CLIENT,
            start_time=end - int(seconds * 1_000_000_000),
            attributes={"db.system": "sqlite", "db.statement": sql},
        )
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end(end_time=end)

    return listener
