"""Health checks: run every plugin's checks with a timeout, cache results briefly.

A probe storm must not overload the app: each check runs at most once per
``health_cache_seconds`` (concurrent callers wait for the one run in flight), and a check
that hangs past its timeout is reported as failed while it keeps running in its own daemon
thread; it is not started again until it returns.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from soulspot import api
from soulspot.types import CheckResult, HealthCheck

log = logging.getLogger("soulspot.observability.health")

_RANK = {"ok": 0, "warn": 1, "fail": 2}


@dataclass
class Outcome:
    name: str
    critical: bool
    status: str
    message: str
    latency_ms: float
    checked_at: float
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "critical": self.critical,
            "status": self.status,
            "message": self.message,
            "latency_ms": round(self.latency_ms, 2),
            "details": self.details,
        }


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    outcome: Outcome | None = None
    running: threading.Thread | None = None


class HealthRunner:
    """Runs the checks of one app."""

    def __init__(self, app: Flask, cache_seconds: float) -> None:
        self.app = app
        self.cache_seconds = cache_seconds
        self._checks: list[HealthCheck] | None = None
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()

    def checks(self) -> list[HealthCheck]:
        if self._checks is None:
            with self._lock:
                if self._checks is None:
                    found: list[HealthCheck] = []
                    for group in api.hook(self.app).health_checks(app=self.app):
                        found.extend(group or ())
                    self._checks = sorted(found, key=lambda c: (not c.critical, c.name))
                    self._slots = {c.name: _Slot() for c in self._checks}
        return self._checks

    def run(self, *, critical_only: bool = False) -> list[Outcome]:
        return [
            self._run_one(check) for check in self.checks() if check.critical or not critical_only
        ]

    def _run_one(self, check: HealthCheck) -> Outcome:
        slot = self._slots[check.name]
        with slot.lock:  # one run per check at a time; waiters get its result
            now = time.monotonic()
            cached = slot.outcome
            if cached is not None and now - cached.checked_at < self.cache_seconds:
                return cached
            if slot.running is not None and slot.running.is_alive():
                outcome = Outcome(
                    check.name,
                    check.critical,
                    "fail",
                    f"still running after its {check.timeout:g}s timeout",
                    (now - (cached.checked_at if cached else now)) * 1000,
                    now,
                )
                slot.outcome = outcome
                return outcome
            outcome = self._execute(check, slot)
            slot.outcome = outcome
            return outcome

    def _execute(self, check: HealthCheck, slot: _Slot) -> Outcome:
        box: dict[str, Any] = {}
        app = self.app

        def target() -> None:
            with app.app_context():
                try:
                    box["result"] = check.check()
                except Exception as exc:  # a broken check is a failed check, not a 500
                    box["error"] = exc

        started = time.perf_counter()
        thread = threading.Thread(target=target, name=f"health-{check.name}", daemon=True)
        thread.start()
        thread.join(check.timeout)
        latency = (time.perf_counter() - started) * 1000
        now = time.monotonic()
        if thread.is_alive():
            slot.running = thread
            log.warning(
                "health check timed out", extra={"check": check.name, "timeout": check.timeout}
            )
            return Outcome(
                check.name,
                check.critical,
                "fail",
                f"timed out after {check.timeout:g}s",
                latency,
                now,
            )
        slot.running = None
        if "error" in box:
            exc = box["error"]
            log.warning(
                "health check raised",
                extra={"check": check.name, "error": f"{type(exc).__name__}: {exc}"},
            )
            return Outcome(
                check.name, check.critical, "fail", f"{type(exc).__name__}: {exc}", latency, now
            )
        result = box.get("result")
        if not isinstance(result, CheckResult):
            return Outcome(
                check.name, check.critical, "fail", "check returned no CheckResult", latency, now
            )
        return Outcome(
            check.name,
            check.critical,
            result.status,
            result.message,
            latency,
            now,
            dict(result.details),
        )


def overall(outcomes: Iterable[Outcome]) -> str:
    worst = 0
    for outcome in outcomes:
        worst = max(worst, _RANK.get(outcome.status, 2))
    return {0: "ok", 1: "warn", 2: "fail"}[worst]


def is_ready(outcomes: Iterable[Outcome]) -> bool:
    return all(o.status != "fail" for o in outcomes if o.critical)


# --- this plugin's own checks --------------------------------------------------------------


def data_dir_check(data_dir: Path) -> HealthCheck:
    def check() -> CheckResult:
        probe = data_dir / f".health-{uuid.uuid4().hex}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, b"ok")
                os.fsync(fd)
            finally:
                os.close(fd)
            probe.unlink()
        except OSError as exc:
            return CheckResult("fail", f"cannot write to the data directory: {exc.strerror}")
        return CheckResult("ok", "writable")

    return HealthCheck("data_dir", check, critical=True, timeout=2.0)


def disk_space_check(data_dir: Path, min_free_mb: int) -> HealthCheck:
    def check() -> CheckResult:
        usage = shutil.disk_usage(data_dir)
        free_mb = usage.free / (1024 * 1024)
        details = {"free_bytes": usage.free, "total_bytes": usage.total}
        if free_mb < min_free_mb:
            return CheckResult(
                "fail", f"{free_mb:.0f} MiB free, below the {min_free_mb} MiB minimum", details
            )
        if free_mb < 2 * min_free_mb:
            return CheckResult("warn", f"{free_mb:.0f} MiB free, getting low", details)
        return CheckResult("ok", f"{free_mb:.0f} MiB free", details)

    return HealthCheck("disk_space", check, critical=True, timeout=2.0)


def versions(app: Flask) -> dict[str, Any]:
    """Versions of Python, Flask, SQLite, SoulSpot and each enabled plugin, plus what plugins
    report through ``dependency_versions``."""
    from importlib.metadata import version as dist_version

    import soulspot

    found: dict[str, Any] = {
        "python": sys.version.split()[0],
        "flask": dist_version("flask"),
        "sqlite": sqlite3.sqlite_version,
        "soulspot": soulspot.__version__,
    }
    for extra in api.hook(app).dependency_versions(app=app):
        for key, value in dict(extra or {}).items():
            found[str(key)] = str(value)
    found["plugins"] = api.enabled_plugins(app)
    return found
