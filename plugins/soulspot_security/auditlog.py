"""The audit log as the owner sees it: queries for the page and the API, export (JSON lines or
CSV), daily retention, and the ``config.plugins_changed`` event at start-up.

The store (``storage().audit``) is append-only; only retention prunes it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

from soulspot import api
from soulspot.api import audit, has_storage, storage
from soulspot.types import AuditEvent

log = logging.getLogger("soulspot.security")

#: Settings-store key holding the enabled plugins of the last start.
PLUGINS_KEY = "security.enabled_plugins"
PRUNE_JOB_ID = "security.audit_retention"
EXPORT_FIELDS = (
    "time",
    "event",
    "outcome",
    "actor",
    "ip",
    "user_agent",
    "request_id",
    "details",
)
_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def as_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "time": event.time.astimezone(dt.UTC).isoformat(),
        "event": event.event,
        "outcome": event.outcome,
        "actor": event.actor,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "details": dict(event.details),
    }


def parse_when(value: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """``2026-01-31``, ``2026-01-31T12:00:00+01:00`` (naive means UTC) or ``7d``/``12h``/
    ``30m``/``2w`` ago. Raises ``ValueError`` with a message for people."""
    now = now or dt.datetime.now(dt.UTC)
    match = _RELATIVE.match(value)
    if match:
        return now - dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date: use 2026-01-31, 2026-01-31T12:00:00Z or 7d / 12h ago"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def iter_events(
    *,
    since: dt.datetime | None,
    until: dt.datetime | None = None,
    event: str | None = None,
    batch: int = 500,
) -> Iterator[AuditEvent]:
    """Every matching event, oldest first. ``until`` defaults to now, so events appended while
    exporting do not shift the pages."""
    store = storage().audit
    until = until or dt.datetime.now(dt.UTC)
    total = store.count(event=event, since=since, until=until)
    # The store pages newest first: walk the pages from the end.
    offset = total
    while offset > 0:
        size = min(batch, offset)
        offset -= size
        rows = store.query(event=event, since=since, until=until, limit=size, offset=offset)
        yield from reversed(rows)


def export(events: Iterator[AuditEvent], fmt: str, out: io.TextIOBase | Any) -> int:
    """Write ``events`` as ``jsonl`` or ``csv`` to ``out``; returns how many."""
    count = 0
    if fmt == "jsonl":
        for event in events:
            out.write(json.dumps(as_dict(event), sort_keys=True, default=str) + "\n")
            count += 1
        return count
    writer = csv.DictWriter(out, fieldnames=list(EXPORT_FIELDS), lineterminator="\n")
    writer.writeheader()
    for event in events:
        row = as_dict(event)
        row["details"] = json.dumps(row["details"], sort_keys=True, default=str)
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})
        count += 1
    return count


def _csv_safe(value: Any) -> Any:
    """Defuse spreadsheet formulas in exported text (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def prune(retention_days: int, *, now: dt.datetime | None = None) -> int:
    """Delete events older than ``retention_days`` (0 keeps everything)."""
    if retention_days <= 0 or not has_storage():
        return 0
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=retention_days)
    store = storage()
    with store.connection():
        removed = store.audit.prune_before(cutoff)
    log.info(
        "audit retention",
        extra={"removed": removed, "cutoff": cutoff.isoformat(), "days": retention_days},
    )
    return removed


def record_plugin_changes() -> list[str] | None:
    """Compare the enabled plugins with the last start's; audit ``config.plugins_changed``
    when they differ. Returns the current list, or ``None`` without a store."""
    if not has_storage():
        return None
    current = sorted(api.enabled_plugins())
    store = storage()
    if store.schema_versions() != store.head_versions():
        # Migrations are pending (`soulspot db status` / `upgrade` on a fresh or older
        # database): the settings table may not exist yet. Compare at the next start.
        log.debug("schema not current: enabled plugins are compared at the next start")
        return current
    with store.connection():
        previous = store.settings.get(PLUGINS_KEY)
        if previous == current:
            return current
        store.settings.set(PLUGINS_KEY, current)
    if isinstance(previous, list):
        before = {str(p) for p in previous}
        audit(
            "config.plugins_changed",
            actor="system",
            enabled=sorted(set(current) - before),
            disabled=sorted(before - set(current)),
            plugins=current,
        )
    return current


def recent(limit: int = 5) -> list[dict[str, Any]]:
    if not has_storage():
        return []
    return [as_dict(e) for e in storage().audit.query(limit=limit)]
