"""A span processor with a bounded queue: finished spans wait for one export thread, and a
full queue or a failed export drops spans and counts them. A request never waits for the
exporter (it may be down, slow, or across a VPN that just went away)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger("soulspot.tracing")

Counter = Callable[[int], None]


class BoundedExportProcessor(SpanProcessor):
    """Queues sampled spans as they end; a daemon thread exports them in batches."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        queue_size: int,
        on_exported: Counter,
        on_dropped: Counter,
        batch_size: int = 256,
        interval: float = 0.5,
    ) -> None:
        self.exporter = exporter
        self.queue: queue.Queue[ReadableSpan] = queue.Queue(maxsize=queue_size)
        self.on_exported = on_exported
        self.on_dropped = on_dropped
        self.batch_size = batch_size
        self.interval = interval
        self.stopping = threading.Event()
        self.idle = threading.Condition()
        self.in_flight = 0
        self.thread = threading.Thread(target=self.run, name="soulspot-span-export", daemon=True)
        self.thread.start()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is None or not span.context.trace_flags.sampled:
            return
        try:
            self.queue.put_nowait(span)
        except queue.Full:
            self.on_dropped(1)

    def run(self) -> None:
        while not (self.stopping.is_set() and self.queue.empty()):
            try:
                first = self.queue.get(timeout=self.interval)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < self.batch_size:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            with self.idle:
                self.in_flight = len(batch)
            self.export(batch)
            with self.idle:
                self.in_flight = 0
                self.idle.notify_all()

    def export(self, batch: list[ReadableSpan]) -> None:
        try:
            result = self.exporter.export(batch)
        except Exception as exc:  # an exporter bug must not kill the export thread
            log.warning("span export failed", extra={"error": type(exc).__name__})
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.on_exported(len(batch))
        else:
            self.on_dropped(len(batch))

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until every queued span was exported (or dropped), at most the timeout."""
        deadline = time.monotonic() + timeout_millis / 1000
        with self.idle:
            while not self.queue.empty() or self.in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.idle.wait(min(left, 0.05))
        return True

    def shutdown(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.exporter.shutdown()
