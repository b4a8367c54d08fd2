"""The outcome of the last upgrade, kept in the data directory: ``soulspot deploy record``
writes it (``soulspot-upgrade`` runs that with the version left serving), the serving process
exposes it as metrics (the ``SoulSpotDeployFailed`` alert reads them) and
``soulspot deploy status`` shows it.

Only click at module level: the command group is added on every ``soulspot`` run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import click

FILE_NAME = "deploy-status.json"

#: Outcomes and the audit outcome each is recorded with.
OUTCOMES = {"upgraded": "ok", "rolled_back": "failed", "rollback_failed": "failed"}


def read_status(data_dir: Path) -> dict[str, Any]:
    """The recorded status, ``{}`` when there is none or it cannot be read (a metric scrape
    must not fail because of it)."""
    try:
        value = json.loads((data_dir / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_status(data_dir: Path, status: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".tmp-deploy-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(status, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, data_dir / FILE_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def updated(
    previous: dict[str, Any],
    outcome: str,
    from_version: str,
    to_version: str,
    reason: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """The new status after ``outcome``; success and failure times are kept apart so the alert
    can compare them."""
    stamp = now.timestamp()
    status = {
        "outcome": outcome,
        "from_version": from_version,
        "to_version": to_version,
        "reason": reason,
        "time": now.isoformat(),
        "last_success_timestamp": float(previous.get("last_success_timestamp", 0) or 0),
        "last_failure_timestamp": float(previous.get("last_failure_timestamp", 0) or 0),
    }
    key = "last_success_timestamp" if OUTCOMES[outcome] == "ok" else "last_failure_timestamp"
    status[key] = stamp
    return status


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
    from soulspot.cli import with_app

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
    from soulspot.cli import with_app

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
