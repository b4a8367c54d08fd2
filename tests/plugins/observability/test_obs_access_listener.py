"""Access lines of ``soulspot serve`` go through stdlib ``QueueHandler``/``QueueListener``:
every line once, whole and in order, all of them written by shutdown; an app built later
writes its lines itself again."""

from __future__ import annotations

import threading
from typing import Any

from obs_support import OTHERS, parse_lines

from soulspot_observability import logs


def _access(out: str) -> list[dict[str, Any]]:
    return [e for e in parse_lines(out) if e["logger"] == "soulspot.access"]


def test_serve_writes_every_line_once_in_order_by_shutdown(make_app: Any, capsys: Any) -> None:
    app = make_app(disable=OTHERS)
    hook = app.extensions["soulspot"].hook
    hook.before_serve(app=app)  # what `soulspot serve` runs before it listens
    ids: dict[int, list[str]] = {}
    try:

        def client_thread(n: int) -> None:
            client = app.test_client()
            ids[n] = [client.get("/health/ready").headers["X-Request-ID"] for _ in range(25)]

        threads = [threading.Thread(target=client_thread, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        with app.app_context():
            hook.shutdown(app=app)
    written = [e["request_id"] for e in _access(capsys.readouterr().out)]  # whole JSON lines
    assert sorted(written) == sorted(i for chunk in ids.values() for i in chunk)
    for chunk in ids.values():  # each thread's lines in its order
        assert [i for i in written if i in set(chunk)] == chunk


def test_building_another_app_ends_a_served_apps_listener(make_app: Any, capsys: Any) -> None:
    """Tests (and CLI commands) build several apps in one process: the listener of one that
    was served but never shut down must not make another app's lines asynchronous."""
    served = make_app(disable=OTHERS)
    served.extensions["soulspot"].hook.before_serve(app=served)
    other = make_app(disable=OTHERS)
    capsys.readouterr()
    rid = other.test_client().get("/health/ready").headers["X-Request-ID"]
    # written before the response returned
    assert [e["request_id"] for e in _access(capsys.readouterr().out)] == [rid]


def test_the_queue_wakes_its_listener_and_hands_over_in_order() -> None:
    queue = logs.WakeOnceQueue()
    got: list[int] = []

    def listener() -> None:
        while (item := queue.get()) is not None:
            got.append(item)

    thread = threading.Thread(target=listener)
    thread.start()
    for n in range(1000):
        queue.put_nowait(n)
    queue.put_nowait(None)
    thread.join(10)
    assert not thread.is_alive()
    assert got == list(range(1000))
