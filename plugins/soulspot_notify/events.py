"""Which happenings become which notification: the one table of this plugin.

Two sources, both public surfaces of the other plugins (documented in their docs), so the
notify plugin imports none of them:

- **audit events** (``audit_event`` hook): a backup failed, a library sync failed or was
  paused by Spotify, a sign-in was refused, an upgrade failed and was rolled back;
- **health checks** (``health_checks`` hook), read by a scheduled check: replication lag,
  the owner's Spotify sign-in running out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from soulspot.types import AuditEvent, CheckResult

from .sender import Message

SITE = "SoulSpot"


def _detail(details: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = details.get(key)
        if value:
            return str(value)
    return "no details"


def from_audit(event: AuditEvent) -> Message | None:
    details = dict(event.details)
    if event.event == "backup.failed":
        return Message(
            "backup_failed",
            f"{SITE}: backup failed",
            f"A {details.get('trigger', '')} backup failed: {_detail(details, 'error')}. "
            "Open Backups to see the last good one.".replace("A  backup", "A backup"),
        )
    if event.event == "library.sync_failed":
        paused = details.get("status") == "paused" or "paused by Spotify" in str(
            details.get("error", "")
        )
        if paused:
            return Message(
                "library_sync_paused",
                f"{SITE}: library sync paused by Spotify",
                f"{_detail(details, 'error')}. The next run carries on where this one stopped.",
                failure=False,
            )
        return Message(
            "library_sync_failed",
            f"{SITE}: library sync failed",
            f"The library sync failed: {_detail(details, 'error')}.",
        )
    if event.event == "auth.sign_in" and event.outcome in ("refused", "failed", "denied"):
        who = event.actor or "someone"
        return Message(
            "sign_in_refused",
            f"{SITE}: sign-in refused",
            f"A sign-in by {who} from {event.ip or 'an unknown address'} was refused "
            f"({_detail(details, 'reason')}).",
        )
    if event.event == "deploy.rolled_back":
        return Message(
            "deploy_failed",
            f"{SITE}: upgrade failed",
            f"The upgrade to {details.get('to_version', 'a new version')} failed and was "
            f"rolled back: {_detail(details, 'reason', 'error')}.",
        )
    if event.event == "deploy.rollback_failed":
        return Message(
            "deploy_failed",
            f"{SITE}: upgrade failed and its rollback too",
            f"The upgrade to {details.get('to_version', 'a new version')} failed and so did "
            f"the rollback: {_detail(details, 'reason', 'error')}. The old version may not be "
            "serving: act now.",
        )
    return None


#: Audit events that say a failure is over: the next failure is news again at once.
RECOVERIES: dict[str, tuple[str, ...]] = {
    "backup.created": ("backup_failed",),
    "library.sync_finished": ("library_sync_failed", "library_sync_paused"),
}


def recovered(event: AuditEvent) -> tuple[str, ...]:
    """The notification events ``event`` ends (a backup that worked ends ``backup_failed``)."""
    if event.outcome not in ("ok", "success", None, ""):
        return ()
    return RECOVERIES.get(event.event, ())


def undetermined(results: Mapping[str, CheckResult]) -> set[str]:
    """Conditions the health results could not judge this time (a check missing, Spotify
    unreachable so no account was looked at): neither present nor cleared."""
    unknown = set()
    if "replication" not in results:
        unknown.add("replication_lagging")
    spotify = results.get("spotify")
    if spotify is None or "accounts" not in (spotify.details or {}):
        unknown.add("reauth_due")
    return unknown


def from_health(results: Mapping[str, CheckResult], reauth_warning_days: int) -> list[Message]:
    """Conditions that hold now, from health check results by check name."""
    found: list[Message] = []
    replication = results.get("replication")
    if replication is not None and replication.status != "ok":
        found.append(
            Message(
                "replication_lagging",
                f"{SITE}: replication is lagging",
                f"Point-in-time replication: {replication.message}.",
            )
        )
    spotify = results.get("spotify")
    accounts = (spotify.details or {}).get("accounts", []) if spotify is not None else []
    due = [
        a
        for a in accounts
        if a.get("days_left") is None or int(a.get("days_left", 0)) <= reauth_warning_days
    ]
    if due:
        parts = [
            f"{a.get('user')}: {a.get('reason')}"
            + (f" ({a['days_left']} days left)" if a.get("days_left") is not None else "")
            for a in due
        ]
        found.append(
            Message(
                "reauth_due",
                f"{SITE}: sign in with Spotify again",
                "Spotify will stop (or has stopped) letting SoulSpot read your library: "
                + "; ".join(parts)
                + ". Sign in again from SoulSpot to renew it.",
                failure=False,
            )
        )
    return found


class Gate:
    """Sends an event at most once per ``repeat_after`` seconds while it goes on; a
    condition that cleared is sent again at once when it comes back."""

    def __init__(self, repeat_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.repeat_after = repeat_after
        self.clock = clock
        self.last: dict[str, float] = {}
        self.lock = threading.Lock()

    def allow(self, event: str) -> bool:
        with self.lock:
            now = self.clock()
            last = self.last.get(event)
            if last is not None and self.repeat_after and now - last < self.repeat_after:
                return False
            self.last[event] = now
            return True

    def clear(self, events: Iterable[str]) -> None:
        with self.lock:
            for event in events:
                self.last.pop(event, None)
