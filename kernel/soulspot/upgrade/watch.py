"""Is the expected version serving and ready, and does it stay so?

Readiness is ``/health/ready`` answering 200 while ``/health`` (detailed on loopback) names
the expected version — an answer from the old process, still draining, does not count. A
version that restarts over and over (the service manager's restart count grows) has failed
even before the timeout.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from .commands import Service

POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str


def probe(base_url: str, version: str) -> tuple[bool, str]:
    """``(ready, what was seen)`` for one look at the service."""
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=5) as resp:  # noqa: S310  # nosec B310
            health = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return False, f"/health answered {exc.code}"
    except (OSError, ValueError) as exc:
        return False, f"/health: {exc}"
    running = str((health.get("versions") or {}).get("soulspot", "?"))
    if running != version:
        return False, f"version {running} answers, waiting for {version}"
    try:
        with urllib.request.urlopen(f"{base_url}/health/ready", timeout=5):  # noqa: S310  # nosec B310
            return True, "ready"
    except urllib.error.HTTPError as exc:
        try:
            failing = json.loads(exc.read()).get("failing") or []
            names = ", ".join(f"{f.get('name')}: {f.get('message', '')}" for f in failing)
        except ValueError:
            names = ""
        return False, f"/health/ready answered {exc.code}" + (f" ({names})" if names else "")
    except OSError as exc:
        return False, f"/health/ready: {exc}"


def watch(
    base_url: str,
    version: str,
    service: Service,
    *,
    base_restarts: int | None,
    timeout: float,
    settle: float,
    max_restarts: int,
    log: Callable[[str], None],
) -> Verdict:
    """Wait up to ``timeout`` for ``version`` to be ready, then ``settle`` seconds in which it
    must stay ready without being restarted. ``base_restarts`` is the service manager's
    restart count from before the restart."""
    base = base_restarts
    start = time.monotonic()
    ready_since: float | None = None
    seen = "no answer yet"
    while True:
        now = time.monotonic()
        count = service.restarts()
        if base is not None and count is not None and count - base >= max_restarts:
            return Verdict(
                False,
                f"version {version} crash-loops: restarted {count - base} times "
                f"(last seen: {seen})",
            )
        ready, seen = probe(base_url, version)
        if ready:
            if ready_since is None:
                ready_since = now
                log(f"{version} is ready after {now - start:.1f}s; watching {settle:.0f}s more")
            if now - ready_since >= settle:
                return Verdict(True, "ready")
        elif ready_since is not None:
            return Verdict(False, f"version {version} was ready, then not: {seen}")
        elif now - start >= timeout:
            return Verdict(False, f"version {version} not ready within {timeout:.0f}s: {seen}")
        time.sleep(POLL_SECONDS)
