"""``soulspot audit ...``: export the audit log (JSON lines or CSV) and prune it."""

from __future__ import annotations

import sys
from typing import IO, Any

import click

from soulspot.cli import fail, with_app


def register(cli: click.Group) -> None:
    from .token_cli import tokens_group

    cli.add_command(audit_group)
    cli.add_command(tokens_group)


@click.group("audit")
def audit_group() -> None:
    """Read and export the audit log."""


@audit_group.command("export")
@click.option(
    "--since",
    required=True,
    help="Oldest event to include: a date (2026-01-31), a time (2026-01-31T12:00:00Z) or "
    "an age (7d, 12h, 30m, 2w).",
)
@click.option("--until", help="Newest event to include (same forms as --since) [default: now].")
@click.option("--event", help="Only this event name (e.g. auth.sign_in).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="JSON lines (one event per line) or CSV (details as a JSON column).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file instead of standard output.",
)
@with_app(read_only=True)
def export_command(
    since: str, until: str | None, event: str | None, fmt: str, output: str | None
) -> None:
    """Export audit events, oldest first."""
    from soulspot.api import has_storage

    from .auditlog import export, iter_events, parse_when

    if not has_storage():
        fail("no storage plugin is enabled, so there is no audit log to export", code=1)
    try:
        start = parse_when(since)
        end = parse_when(until) if until else None
    except ValueError as exc:
        fail(f"audit export: {exc}")
        return
    if end is not None and end < start:
        fail("audit export: --until is before --since")
    events = iter_events(since=start, until=end, event=event)
    if output:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            count = export(events, fmt, fh)
        click.echo(f"exported {count} audit event(s) to {output}", err=True)
    else:
        stream: IO[Any] = sys.stdout
        count = export(events, fmt, stream)
        stream.flush()


@audit_group.command("prune")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_app
def prune_command(yes: bool) -> None:
    """Delete events older than [plugins.security] audit_retention_days now (the daily job
    does the same)."""
    from soulspot.api import config_for
    from soulspot.cli import confirm

    from .auditlog import prune

    days = config_for("security").audit_retention_days
    if days <= 0:
        click.echo("audit_retention_days = 0: events are kept forever; nothing to prune")
        return
    confirm(f"Delete audit events older than {days} days?", yes)
    click.echo(f"pruned {prune(days)} audit event(s) older than {days} days")
