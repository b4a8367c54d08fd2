"""``soulspot notify``: send a test notification from the command line."""

from __future__ import annotations

import click

from soulspot.cli import fail, with_app


@click.group()
def notify() -> None:
    """Notifications through Apprise: test the configured services."""


@notify.command("test")
@with_app
def test() -> None:
    """Send a test notification to every configured service now."""
    from flask import current_app

    from soulspot import api

    from .service import notifier

    state = notifier(current_app)
    if not state.configured:
        fail("no notification service is configured: set [plugins.notify] urls", code=1)
    delivery = state.test()
    api.audit("notify.test_sent", outcome="ok" if delivery.ok else "failed")
    if not delivery.ok:
        fail(
            f"not every one of the {delivery.services} service(s) accepted the test "
            "notification (the log line says which failed)",
            code=1,
        )
    click.echo(f"Test notification sent to {delivery.services} service(s).")
