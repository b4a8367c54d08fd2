"""Bounded audit and log writes for refused requests (CSRF refusals, bad API tokens).

Anonymous clients cause refusals at will: one audit row per refusal (or per distinct
``Origin``, as before) let a single client write ~200 rows a second, fill the disk and drown
the events that matter. Here, per client and window (``audit_window_seconds``):

- the **first** refusal of each kind (event and reason) is audited with its details, at most
  ``audit_max_per_client`` rows per client and ``audit_max_per_window`` rows in all;
- later ones are only **counted**; when the client's window has passed, one summary row per
  kind says how many there were (``repeats``), with a few sample origins and paths. The
  summary is written by the client's next refusal, by the ``security.audit_summaries`` job
  (every minute while serving) or at shutdown;
- past ``refused_per_window`` refusals a client gets **429** with ``Retry-After`` instead of
  the refusal, and no log line: refused requests are rate-limited on every path, not only
  under ``/auth`` and ``/api``. Requests that are not refused are never limited here, so a
  hostile page in the owner's browser (same address) cannot lock the owner out this way.

Clients are keyed by address; IPv6 addresses by their /64 (one host usually has a whole
/64, so hopping addresses would otherwise buy a fresh budget each time).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Sample values kept per summary (distinct origins, paths).
SAMPLES = 5
#: Clients tracked at once; beyond, refusals are counted in one overflow summary.
MAX_CLIENTS = 10_000
SUMMARY_JOB_ID = "security.audit_summaries"

AuditWriter = Callable[..., Any]


def client_key(addr: str | None) -> str:
    """The address a budget belongs to: IPv4 as is, IPv6 by its /64."""
    if not addr:
        return "unknown"
    try:
        ip = ipaddress.ip_address(addr.split("%")[0])
    except ValueError:
        return addr[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass
class _Kind:
    """Counts of one kind of refusal (event, reason) in one client's window."""

    first_at: float
    count: int = 0
    audited: bool = False
    origins: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def sample(self, origin: str | None, path: str) -> None:
        if origin and origin not in self.origins and len(self.origins) < SAMPLES:
            self.origins.append(origin[:200])
        if path not in self.paths and len(self.paths) < SAMPLES:
            self.paths.append(path[:200])


@dataclass
class _Window:
    started: float
    refused: int = 0
    audits: int = 0
    kinds: dict[tuple[str, str], _Kind] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """What to do with one refusal."""

    #: Write the audit row for this refusal now.
    audit: bool
    #: Write a log line for it.
    log: bool
    #: Answer 429 instead, with this many seconds in ``Retry-After``; ``None``: refuse as usual.
    retry_after: int | None = None


class RefusalThrottle:
    """The counters behind :data:`Decision` (one per app; thread-safe)."""

    def __init__(
        self,
        *,
        window_seconds: int,
        max_per_client: int,
        max_per_window: int,
        refused_per_window: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = float(window_seconds)
        self.max_per_client = max_per_client
        self.max_per_window = max_per_window
        self.refused_per_window = refused_per_window
        self.clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, _Window] = {}
        #: ``(window start, rows written)`` across all clients.
        self._global = (clock(), 0)
        #: Refusals of clients not tracked because MAX_CLIENTS were (summarised by the job).
        self._overflow = 0

    def refused(
        self, addr: str | None, event: str, reason: str, origin: str | None, path: str
    ) -> tuple[Decision, list[dict[str, Any]]]:
        """Count one refusal. Returns the decision and the summaries of this client's
        previous window, if it just ended (for the caller to audit: it is the same client,
        so the row's address is right)."""
        now = self.clock()
        key = client_key(addr)
        with self._lock:
            summaries: list[dict[str, Any]] = []
            window = self._clients.get(key)
            if window is not None and now - window.started >= self.window:
                summaries = self._summaries(key, self._clients.pop(key))
                window = None
            if window is None:
                if len(self._clients) >= MAX_CLIENTS:
                    self._overflow += 1
                    return Decision(audit=False, log=False), summaries
                window = self._clients[key] = _Window(started=now)
            window.refused += 1
            kind = window.kinds.get((event, reason))
            if kind is None:
                kind = window.kinds[(event, reason)] = _Kind(first_at=time.time())
            kind.count += 1
            kind.sample(origin, path)
            if window.refused > self.refused_per_window:
                left = window.started + self.window - now
                return Decision(False, False, max(1, math.ceil(left))), summaries
            write = not kind.audited and self._may_write(window, now)
            if write:
                kind.audited = True
            # log the first of each kind; the rest are in the summary
            return Decision(audit=write, log=kind.count == 1), summaries

    def _may_write(self, window: _Window, now: float) -> bool:
        started, written = self._global
        if now - started >= self.window:
            started, written = now, 0
        if window.audits >= self.max_per_client or written >= self.max_per_window:
            self._global = (started, written)
            return False
        window.audits += 1
        self._global = (started, written + 1)
        return True

    def _summaries(self, key: str, window: _Window) -> list[dict[str, Any]]:
        """Summary rows of a finished window: one per kind refused more often than audited."""
        out = []
        for (event, reason), kind in window.kinds.items():
            repeats = kind.count - (1 if kind.audited else 0)
            if repeats <= 0:
                continue
            out.append(
                {
                    "event": event,
                    "client": key,
                    "reason": reason,
                    "repeats": repeats,
                    "first_at": dt.datetime.fromtimestamp(kind.first_at, dt.UTC).isoformat(),
                    "window_seconds": int(self.window),
                    "origins": list(kind.origins),
                    "paths": list(kind.paths),
                }
            )
        return out

    def expired(self, *, everything: bool = False) -> list[dict[str, Any]]:
        """Summaries of every window that has ended (all of them with ``everything``, at
        shutdown), removing them; plus one for refusals of untracked clients."""
        now = self.clock()
        out: list[dict[str, Any]] = []
        with self._lock:
            for key in list(self._clients):
                window = self._clients[key]
                if everything or now - window.started >= self.window:
                    out.extend(self._summaries(key, self._clients.pop(key)))
            if self._overflow:
                out.append(
                    {
                        "event": "security.refusals_untracked",
                        "client": "many",
                        "reason": "too-many-clients",
                        "repeats": self._overflow,
                        "window_seconds": int(self.window),
                    }
                )
                self._overflow = 0
        return out


def throttle_for(cfg: Any) -> RefusalThrottle:
    """The throttle ``[plugins.security]`` describes."""
    return RefusalThrottle(
        window_seconds=cfg.audit_window_seconds,
        max_per_client=cfg.audit_max_per_client,
        max_per_window=cfg.audit_max_per_window,
        refused_per_window=cfg.refused_per_window,
    )


def write_summaries(summaries: list[dict[str, Any]], audit: AuditWriter) -> None:
    """Audit each summary as its own event with ``outcome="refused"`` and ``summary=True``."""
    for row in summaries:
        details = {k: v for k, v in row.items() if k != "event"}
        audit(row["event"], outcome="refused", summary=True, **details)
