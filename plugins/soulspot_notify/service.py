"""One app's notifier: config, the sender, the repeat gate, and the health watch."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, cast

from flask import Flask

from soulspot import api
from soulspot.types import AuditEvent, CheckResult

from .config import NotifyConfig
from .events import Gate, from_audit, from_health, recovered, undetermined
from .sender import Delivery, Message, Sender

log = logging.getLogger("soulspot.notify")
STATE_KEY = "soulspot_notify"
#: The health checks the watch reads (their names are the other plugins' public surface).
WATCHED_CHECKS = ("replication", "spotify")


@dataclass
class Notifier:
    config: NotifyConfig
    sender: Sender
    gate: Gate
    active: set[str] = field(default_factory=set)

    @property
    def configured(self) -> bool:
        return bool(self.config.urls)

    def wanted(self, message: Message) -> bool:
        return self.configured and message.event in self.config.events

    def on_audit(self, event: AuditEvent) -> None:
        self.gate.clear(recovered(event))  # it worked again: the next failure is news
        message = from_audit(event)
        if message is not None and self.wanted(message) and self.gate.allow(message.event):
            self.sender.submit(message)

    def watch(self, results: dict[str, CheckResult]) -> list[str]:
        """Send what the health results say needs the owner; returns the events sent."""
        now = {m.event: m for m in from_health(results, self.config.reauth_warning_days)}
        unknown = undetermined(results)  # not judged this time: neither new nor cleared
        self.gate.clear(self.active - set(now) - unknown)  # cleared: next time is news
        self.active = set(now) | (self.active & unknown)
        sent = []
        for event, message in now.items():
            if self.wanted(message) and self.gate.allow(event):
                self.sender.submit(message)
                sent.append(event)
        return sent

    def test(self) -> Delivery:
        return self.sender.send_now(
            Message(
                "test",
                "SoulSpot: test notification",
                "This is a test from SoulSpot: notifications reach you here.",
                failure=False,
            )
        )


def build(config: NotifyConfig) -> Notifier:
    urls = [url.get_secret_value() for url in config.urls]
    return Notifier(
        config,
        Sender(urls, config.timeout_seconds),
        Gate(config.repeat_after_minutes * 60.0),
    )


def notifier(app: Flask) -> Notifier:
    try:
        return cast(Notifier, api.state_for(STATE_KEY, app))
    except LookupError:
        return api.set_state_for(STATE_KEY, build(api.config_for("notify", app)), app)


def run_watched_checks(app: Flask) -> dict[str, CheckResult]:
    """Run the watched health checks of every plugin (inside an app context)."""
    results: dict[str, CheckResult] = {}
    for group in api.hook(app).health_checks(app=app):
        for check in group or ():
            if check.name not in WATCHED_CHECKS:
                continue
            try:
                results[check.name] = check.check()
            except Exception as exc:  # a broken check is the observability plugin's news
                log.warning(
                    "health check failed", extra={"check": check.name, "error": type(exc).__name__}
                )
    return results


def watch_job(app: Flask) -> Any:
    def run() -> None:
        notifier(app).watch(run_watched_checks(app))

    return run
