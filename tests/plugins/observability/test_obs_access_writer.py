"""Access lines of ``soulspot serve`` are written by one writer thread: every line once,
whole and in order, nothing lost at shutdown or when the reader of stdout stalls."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from obs_support import OTHERS, parse_lines

from soulspot_observability import logs


class GatedStream(io.StringIO):
    """A stream whose writes wait for ``gate`` (a stalled reader of stdout)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def write(self, text: str) -> int:
        self.entered.set()
        assert self.gate.wait(10), "the test never opened the gate"
        return super().write(text)


@pytest.fixture
def stream_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[logging.StreamHandler[Any]]:
    """The fast path's only handler writes into a StringIO."""
    handler: logging.StreamHandler[Any] = logging.StreamHandler(io.StringIO())
    monkeypatch.setattr(logs, "_fast_handlers", (handler,))
    yield handler


def _line(thread: int, n: int) -> str:
    return json.dumps({"event": "request", "thread": thread, "n": n, "pad": "x" * 200}) + "\n"


def test_lines_from_many_threads_are_written_whole_once_and_in_order(
    stream_handler: logging.StreamHandler[Any],
) -> None:
    writer = logs.AccessLineWriter(batch=64)
    go = threading.Barrier(8)

    def request_thread(i: int) -> None:
        go.wait()
        for n in range(400):
            assert writer.put(_line(i, n))

    threads = [threading.Thread(target=request_thread, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    lines = parse_lines(stream_handler.stream.getvalue())  # every line whole JSON
    assert len(lines) == 8 * 400
    for i in range(8):
        assert [e["n"] for e in lines if e["thread"] == i] == list(range(400))
    assert writer.put(_line(0, 0)) is False  # closed: callers write their own lines


def test_a_stalled_reader_makes_requests_write_their_own_lines_and_loses_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = GatedStream()
    handler: logging.StreamHandler[Any] = logging.StreamHandler(stream)
    monkeypatch.setattr(logs, "_fast_handlers", (handler,))
    writer = logs.AccessLineWriter(max_pending=5)
    assert writer.put(_line(0, 0))
    assert stream.entered.wait(10)  # the writer thread is stuck in write()
    queued = [writer.put(_line(0, n)) for n in range(1, 9)]
    assert queued == [True] * 5 + [False] * 3  # full: the caller must write it itself
    stream.gate.set()
    writer.close()
    numbers = sorted(e["n"] for e in parse_lines(stream.getvalue()))
    assert numbers == list(range(6))  # the three refused lines are the callers' to write


def test_serve_hands_access_lines_to_the_writer_and_shutdown_writes_them(
    make_app: Any, capsys: Any
) -> None:
    app = make_app(disable=OTHERS)
    hook = app.extensions["soulspot"].hook
    hook.before_serve(app=app)  # what `soulspot serve` runs before it listens
    try:
        writer = logs._writer
        assert writer is not None
        client = app.test_client()
        ids = [client.get("/health/ready").headers["X-Request-ID"] for _ in range(20)]
    finally:
        with app.app_context():
            hook.shutdown(app=app)
    assert logs._writer is None
    access = [e for e in parse_lines(capsys.readouterr().out) if e["logger"] == "soulspot.access"]
    assert [e["request_id"] for e in access] == ids


def test_building_another_app_ends_a_served_apps_writer(make_app: Any, capsys: Any) -> None:
    """Tests (and CLI commands) build several apps in one process: the writer of one that
    was served but never shut down must not make another app's lines asynchronous."""
    served = make_app(disable=OTHERS)
    served.extensions["soulspot"].hook.before_serve(app=served)
    assert logs._writer is not None
    other = make_app(disable=OTHERS)
    assert logs._writer is None
    capsys.readouterr()
    rid = other.test_client().get("/health/ready").headers["X-Request-ID"]
    lines = parse_lines(capsys.readouterr().out)  # written before the response returned
    assert [e["request_id"] for e in lines if e["logger"] == "soulspot.access"] == [rid]
