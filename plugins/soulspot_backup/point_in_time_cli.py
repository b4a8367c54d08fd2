"""What ``soulspot backup restore --at/--latest/--dry-run`` reads and prints (click only, so
``soulspot --help`` stays fast)."""

from __future__ import annotations

from typing import Any

import click


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return str(size)


def when_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """The ``--at`` option: an ISO 8601 moment, as UTC."""
    if value is None:
        return None
    from .point_in_time import parse_when

    try:
        return parse_when(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def print_dry_run(report: dict[str, Any]) -> None:
    click.echo(f"would restore the database as of {report['at']}")
    click.echo(f"size: {_size(int(report['size']))}")
    integrity = report["integrity"]
    click.echo(f"integrity: {'ok' if integrity == ['ok'] else '; '.join(integrity)}")
    for table, count in report["tables"].items():
        click.echo(f"  {table}: {count} rows")
    click.echo("nothing was changed (dry run)")
