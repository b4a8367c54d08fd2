"""``soulspot deploy record`` and ``soulspot deploy status``: the outcome of the last upgrade
(:mod:`soulspot.upgrade.status` holds the file format).

Only click at module level: the command group is added on every ``soulspot`` run.
"""

from __future__ import annotations

import datetime as dt
import json

import click

from .upgrade.status import OUTCOMES, read_status, updated, write_status


@click.group("deploy")
def deploy_group() -> None:
    """The outcome of upgrades made with soulspot-upgrade."""


@deploy_group.command("record")
@click.argument("outcome", type=click.Choice(sorted(OUTCOMES)))
@click.option("--from", "from_version", required=True, help="Version before the upgrade.")
@click.option("--to", "to_version", required=True, help="Version the upgrade installed.")
@click.option("--reason", default="", help="Why it was rolled back (empty when upgraded).")
def record_command(outcome: str, from_version: str, to_version: str, reason: str) -> None:
    """Record an upgrade's OUTCOME: an audit event deploy.<OUTCOME> (stored, logged, and seen
    by every audit_event hook: a notify plugin) and the status the metrics expose. Run by
    soulspot-upgrade with the version left serving."""
    from .cli_support import with_app

    @with_app
    def record() -> None:
        from soulspot.api import audit, data_dir

        path = data_dir()
        status = updated(
            read_status(path),
            outcome,
            from_version,
            to_version,
            reason,
            dt.datetime.now(dt.UTC),
        )
        write_status(path, status)
        audit(
            f"deploy.{outcome}",
            outcome=OUTCOMES[outcome],
            actor="soulspot-upgrade",
            from_version=from_version,
            to_version=to_version,
            reason=reason,
        )
        click.echo(f"recorded deploy.{outcome}: {from_version} -> {to_version}")

    record()


@deploy_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
def status_command(as_json: bool) -> None:
    """Show the outcome of the last upgrade."""
    from .cli_support import with_app

    @with_app(read_only=True)
    def show() -> None:
        from soulspot.api import data_dir

        status = read_status(data_dir())
        if as_json:
            click.echo(json.dumps(status, indent=2))
        elif not status:
            click.echo("no upgrade recorded (soulspot-upgrade records each one)")
        else:
            click.echo(
                f"{status['time']}: {status['outcome']} "
                f"{status['from_version']} -> {status['to_version']}"
                + (f" ({status['reason']})" if status.get("reason") else "")
            )

    show()
