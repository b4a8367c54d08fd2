"""``soulspot tokens create|list|revoke``: personal API tokens from a terminal. Works with the
server running or stopped (the store is shared; a revoked token stops working at once)."""

from __future__ import annotations

import datetime as dt
import json

import click

from soulspot.cli import fail, with_app


@click.group("tokens")
def tokens_group() -> None:
    """Personal API tokens for scripts (Authorization: Bearer ...)."""


def _need_storage() -> None:
    from soulspot.api import has_storage

    if not has_storage():
        fail("no storage plugin is enabled, so there are no API tokens", code=1)


@tokens_group.command("create")
@click.option("--name", required=True, help="What the token is for, e.g. 'backup script'.")
@click.option(
    "--scope",
    type=click.Choice(["read", "write"]),
    default="read",
    show_default=True,
    help="read: GET only; write: everything the owner may do (each use audited).",
)
@click.option(
    "--expires-days",
    type=click.IntRange(0, 3650),
    default=0,
    show_default=True,
    help="Days until the token stops working (0: never).",
)
@with_app
def create_command(name: str, scope: str, expires_days: int) -> None:
    """Create a token and print it once (only its hash is kept)."""
    from soulspot.api import audit, storage

    from . import api_tokens

    _need_storage()
    expires = dt.timedelta(days=expires_days) if expires_days else None
    try:
        with storage().write_transaction():
            info, token = api_tokens.create(
                name, scope, user_id="owner", display_name="owner", expires_in=expires
            )
    except ValueError as exc:
        fail(f"tokens create: {exc}")
        return
    audit("api_token.created", actor="cli", id=info.id, name=info.name, scope=scope, via="cli")
    when = info.expires_at.isoformat() if info.expires_at else "never"
    click.echo(f"created API token {info.id} ({info.name}, {scope}, expires {when})", err=True)
    click.echo("copy it now, it is not shown again:", err=True)
    click.echo(token)


@tokens_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per token.")
@with_app(read_only=True)
def list_command(as_json: bool) -> None:
    """List tokens (never the tokens themselves)."""
    from . import api_tokens

    _need_storage()
    tokens = api_tokens.all_tokens()
    if as_json:
        for info in tokens:
            click.echo(json.dumps(info.as_dict(), sort_keys=True))
        return
    if not tokens:
        click.echo("no API tokens")
        return
    click.echo(f"{'ID':<10}{'SCOPE':<7}{'EXPIRES':<18}{'LAST USED':<18}NAME")
    for info in tokens:
        expires = info.expires_at.strftime("%Y-%m-%d %H:%M") if info.expires_at else "never"
        if info.expired():
            expires += "!"
        used = info.last_used_at.strftime("%Y-%m-%d %H:%M") if info.last_used_at else "never"
        click.echo(f"{info.id:<10}{info.scope:<7}{expires:<18}{used:<18}{info.name}")


@tokens_group.command("revoke")
@click.argument("token_id")
@with_app(read_only=True)
def revoke_command(token_id: str) -> None:
    """Revoke (delete) the token with this ID (see `soulspot tokens list`)."""
    from soulspot.api import audit, storage

    from . import api_tokens

    _need_storage()
    with storage().write_transaction():
        info = api_tokens.revoke(token_id)
    if info is None:
        fail(f"tokens revoke: no API token with id {token_id!r} (see `soulspot tokens list`)")
        return
    audit("api_token.revoked", actor="cli", id=info.id, name=info.name, via="cli")
    click.echo(f"revoked API token {info.id} ({info.name})")
