"""``soulspot serve`` runs Litestream as its child: restarted with back-off when it exits,
stopped cleanly (a last sync) on shutdown, paused while a restore swaps the database file.
Every line it prints becomes one of our JSON log lines (logger ``soulspot.replication``).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess  # nosec B404 - the plugin's job is supervising the Litestream binary
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import ReplicationConfig
from .litestream import binary, environment

log = logging.getLogger("soulspot.replication")

#: Back-off between restarts: doubled after each quick exit, up to the cap.
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0
#: A run this long counts as healthy: the next restart waits FIRST_BACKOFF again.
HEALTHY_RUN = 60.0
#: How long Litestream gets for its last sync after SIGTERM before it is killed.
STOP_TIMEOUT = 15.0

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}


def _first_level(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose first ``level`` is the line's severity: Litestream's slog lines
    repeat the key when a message has a ``level`` attribute (``"compaction failed"``,
    ``"level": 1``), and a plain ``dict`` would keep the last one, logging errors as INFO."""
    record: dict[str, Any] = {}
    for key, value in pairs:
        if key in record:
            key = f"{key}_2" if key != "level" else "attribute_level"
        record[key] = value
    return record


def emit(line: str) -> None:
    """One line Litestream printed, as our log line (its fields under ``litestream``)."""
    text = line.strip()
    if not text:
        return
    try:
        record = json.loads(text, object_pairs_hook=_first_level)
    except json.JSONDecodeError:
        record = None
    if not isinstance(record, dict):
        log.warning("litestream: %s", text, extra={"litestream": {"text": text}})
        return
    level = _LEVELS.get(str(record.pop("level", "INFO")).upper(), logging.INFO)
    message = str(record.pop("msg", "")) or "(no message)"
    record.pop("time", None)
    log.log(level, "litestream: %s", message, extra={"litestream": record})


class Supervisor:
    """Keeps one ``litestream replicate`` running for this process."""

    def __init__(self, cfg: ReplicationConfig, config_path: Path) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.restarts = 0
        self.started_at: float | None = None  # of the child running now
        self.pid: int | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stopping = False
        self._paused = 0
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        with self._lock:
            return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="soulspot-litestream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        self._end_child()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT + 5)
            self._thread = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No Litestream runs inside the block; it starts again after it."""
        with self._lock:
            self._paused += 1
        try:
            self._end_child()
            yield
        finally:
            with self._lock:
                self._paused -= 1
                self._wake.notify_all()

    def _command(self) -> list[str]:
        # Litestream exits (after a last sync) when its -exec child does: the watcher exits
        # when this process is gone, even after a SIGKILL that left no time to stop it.
        watcher = shlex.join([sys.executable, "-m", "soulspot_replication.watch", str(os.getpid())])
        return [
            binary(self.cfg),
            "replicate",
            "-config",
            str(self.config_path),
            "-no-expand-env",
            "-exec",
            watcher,
        ]

    def _end_child(self) -> None:
        with self._lock:
            proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("litestream did not stop within %.0f s; killed", STOP_TIMEOUT)
            proc.kill()
            proc.wait()

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` or until stopped; True when it is time to start a child."""
        deadline = time.monotonic() + seconds
        with self._lock:
            while not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0 and not self._paused:
                    return True
                self._wake.wait(max(left, 0.5) if self._paused else left)
            return False

    def _loop(self) -> None:
        backoff = FIRST_BACKOFF
        delay = 0.0
        while self._wait(delay):
            began = time.monotonic()
            code = self._run_once()
            if code is None:  # paused or stopped while starting
                delay = 0.0
                continue
            ran = time.monotonic() - began
            with self._lock:
                expected = self._stopping or self._paused > 0
            if expected:
                delay = 0.0
                continue
            backoff = FIRST_BACKOFF if ran >= HEALTHY_RUN else backoff
            self.restarts += 1
            log.warning(
                "litestream exited with code %s after %.1f s; restarting in %.0f s",
                code,
                ran,
                backoff,
                extra={"exit_code": code, "restarts": self.restarts},
            )
            delay = backoff
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _run_once(self) -> int | None:
        try:
            command = self._command()
            with self._lock:
                if self._stopping or self._paused:
                    return None
                self._proc = subprocess.Popen(  # noqa: S603  # nosec B603 - our binary, our arguments
                    command,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    env=environment(self.cfg),
                    start_new_session=True,  # Ctrl-C in a terminal is ours to pass on
                )
                proc = self._proc
                self.pid = proc.pid
                self.started_at = time.time()
        except Exception as exc:  # binary missing, not executable: say so, try again later
            log.error("litestream could not start: %s", exc)
            return -1
        log.info("litestream started", extra={"pid": proc.pid, "config": str(self.config_path)})
        if proc.stdout is None:  # always a pipe: Popen above asks for one
            return None
        for line in proc.stdout:
            emit(line)
        code = proc.wait()
        with self._lock:
            self._proc = None
            self.started_at = None
        log.info("litestream stopped", extra={"pid": proc.pid, "exit_code": code})
        return code


def describe(supervisor: Supervisor | None) -> dict[str, Any]:
    if supervisor is None:
        return {"supervised": False}
    return {
        "supervised": True,
        "running": supervisor.running,
        "pid": supervisor.pid,
        "restarts": supervisor.restarts,
    }
