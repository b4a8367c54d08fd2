"""The state of the vault for ``/library``, ``/api/library/status`` and the CLI."""

from __future__ import annotations

import time
from typing import Any

from soulspot import api

from .queries import counts, last_good_run, last_runs, running
from .times import iso


def library_status() -> dict[str, Any]:
    from .runner import NEEDED_SCOPES, REAUTHORISE, sync_running
    from .service import service

    client = api.owner_client()
    if client is None:
        auth = {"signed_in": False, "reauthorise": False, "missing_scopes": []}
    else:
        missing = sorted(NEEDED_SCOPES - client.granted_scopes)
        auth = {"signed_in": True, "reauthorise": bool(missing), "missing_scopes": missing}
    runs = last_runs(1)
    last = runs[0] if runs else None
    good = last_good_run()
    current = running() if sync_running() else None
    paused_until = None
    until = last.paused_until if last is not None and last.status == "paused" else None
    if until is not None and until > time.time():
        paused_until = iso(until)
    nxt = service().next_run()
    progress = None
    if current is not None:
        progress = {
            "step": current.step,
            "done": current.done,
            "total": current.total,
            "started_at": iso(current.started_at),
        }
    return {
        "counts": counts(),
        "auth": auth,
        "reauthorise_message": REAUTHORISE,
        "running": progress,
        "last_run": None if last is None else run_dict(last),
        "last_good_sync": iso(good.finished_at) if good is not None else None,
        "next_run": nxt.strftime("%Y-%m-%dT%H:%M:%SZ") if nxt else None,
        "paused_until": paused_until,
    }


def run_dict(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at) or None,
        "full": bool(run.full),
        "trigger": run.trigger,
        "requests": run.requests,
        "changes": run.changes,
        "message": run.message,
    }
