"""A local webhook receiver for notification tests: a real HTTP server on 127.0.0.1 that
keeps every JSON body posted to it (Apprise's ``json://`` service posts there). ``stall``
makes it hold each request until released (a service that hangs)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.stall = threading.Event()
        self.release = threading.Event()

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.stall.is_set():
                    receiver.release.wait(30)
                with receiver.lock:
                    receiver.posts.append(json.loads(body or b"{}"))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        """An Apprise URL that posts JSON here."""
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.posts) >= count:
                    return list(self.posts)
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} posts, got {self.posts}")
            time.sleep(0.02)
