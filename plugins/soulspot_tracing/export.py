"""A span processor with a bounded queue: finished spans wait for one export thread, and a
full queue or a failed export drops spans and counts them. A request never waits for the
exporter (it may be down, slow, or across a VPN that just went away).

It batches the way the SDK's ``BatchSpanProcessor`` does (and reads the same
``OTEL_BSP_*`` variables, see :mod:`.provider`): the thread sleeps for the schedule delay, or
until a full batch is waiting, then exports everything queued in batches. Not the SDK's class
itself: the spans it drops are visible only through an OpenTelemetry meter provider, and
Prometheus is SoulSpot's metrics path (``soulspot_tracing_spans_dropped_total``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .scrub import for_export

log = logging.getLogger("soulspot.tracing")

Counter = Callable[[int], None]

#: The SDK's defaults for OTEL_BSP_SCHEDULE_DELAY (ms) and OTEL_BSP_MAX_EXPORT_BATCH_SIZE.
SCHEDULE_DELAY_MS = 5000
BATCH_SIZE = 512


class BoundedExportProcessor(SpanProcessor):
    """Queues sampled spans as they end; a daemon thread exports them in batches."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        queue_size: int,
        on_exported: Counter,
        on_dropped: Counter,
        batch_size: int = BATCH_SIZE,
        schedule_delay_ms: float = SCHEDULE_DELAY_MS,
        secrets: frozenset[str] = frozenset(),
    ) -> None:
        self.exporter = exporter
        self.secrets = secrets
        self.queue_size = queue_size
        # A deque: appending is one atomic step under the GIL, no lock per span; the bound
        # is checked by hand so that what does not fit is counted, not silently pushed out.
        self.queue: deque[ReadableSpan] = deque()
        self.on_exported = on_exported
        self.on_dropped = on_dropped
        self.batch_size = max(1, min(batch_size, queue_size))
        self.schedule_delay = schedule_delay_ms / 1000
        self.wake = threading.Event()
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
        waiting = len(self.queue)
        if waiting >= self.queue_size:
            self.on_dropped(1)
            return
        self.queue.append(span)
        # A full batch: export it now, not at the delay (">=": two threads may append at
        # once, and a missed wake-up would let the queue fill for the whole delay).
        if waiting + 1 >= self.batch_size and not self.wake.is_set():
            self.wake.set()

    def run(self) -> None:
        # The exporter's own HTTP call is not a span (the requests instrumentation skips it).
        with suppress_instrumentation():
            while not self.stopping.is_set():
                self.wake.wait(self.schedule_delay)
                self.wake.clear()
                self.drain()
            self.drain()

    def take(self) -> list[ReadableSpan]:
        """The next batch, counted as in flight in the same step (for :meth:`force_flush`)."""
        with self.idle:
            batch: list[ReadableSpan] = []
            while self.queue and len(batch) < self.batch_size:
                batch.append(self.queue.popleft())
            self.in_flight = len(batch)
            return batch

    def drain(self) -> None:
        while batch := self.take():
            self.export(batch)
            with self.idle:
                self.in_flight = 0
                self.idle.notify_all()

    def export(self, batch: list[ReadableSpan]) -> None:
        try:
            result = self.exporter.export([for_export(span, self.secrets) for span in batch])
        except Exception as exc:  # an exporter bug must not kill the export thread
            log.warning("span export failed", extra={"error": type(exc).__name__})
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.on_exported(len(batch))
        else:
            self.on_dropped(len(batch))

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export every queued span now (or drop it), waiting at most the timeout."""
        deadline = time.monotonic() + timeout_millis / 1000
        self.wake.set()
        with self.idle:
            while self.queue or self.in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.wake.set()
                self.idle.wait(min(left, 0.05))
        return True

    def shutdown(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=10)
        self.exporter.shutdown()
