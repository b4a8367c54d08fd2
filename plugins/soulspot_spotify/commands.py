"""``soulspot secrets ...`` and ``soulspot sessions ...`` commands of the spotify plugin.
Import-light: click only; the real work is imported inside the command bodies."""

from __future__ import annotations

import click

from soulspot.cli import confirm, fail, with_app

from .session_cli import sessions_group

SECRETS_HELP = "Manage SoulSpot's secrets and encryption keys."


def secrets_group(cli: click.Group) -> click.Group:
    """The shared ``secrets`` group (created by whichever plugin comes first)."""
    group = cli.commands.get("secrets")
    if not isinstance(group, click.Group):
        group = click.Group("secrets", help=SECRETS_HELP)
        cli.add_command(group)
    return group


@click.command("rotate")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_app
def rotate_command(yes: bool) -> None:
    """Rotate the key that encrypts stored Spotify tokens: add a new key, re-encrypt every
    token in one transaction, retire the old key."""
    from soulspot import api

    from .rotation import rotate
    from .runtime import runtime

    rt = runtime()
    if rt.keyring.from_config:
        question = (
            "Re-encrypt every stored Spotify token under the first key of "
            "[plugins.spotify] token_keys?"
        )
    else:
        question = (
            f"Rotate the Spotify token key in {rt.keyring.path}? Backups taken before now "
            "need the old key to read their tokens (see docs/operations/secrets-rotation.md)."
        )
    confirm(question, yes)
    try:
        result = rotate(rt)
    except Exception as exc:
        api.audit(
            "secrets.rotated",
            outcome="failed",
            key_name="spotify_token_key",
            error=type(exc).__name__,
        )
        fail(f"rotation failed: {exc}", code=1)
        return
    api.audit(
        "secrets.rotated",
        key_name="spotify_token_key",
        source=result.source,
        reencrypted=result.reencrypted,
        unreadable=result.unreadable,
        retired=result.retired,
    )
    click.echo(f"re-encrypted {result.reencrypted} stored token set(s)")
    if result.unreadable:
        click.echo(
            f"{result.unreadable} token set(s) could not be decrypted with any key and were "
            "purged: sign in with Spotify again"
        )
    if result.source == "file":
        click.echo(f"new key in {rt.keyring.path}; {result.retired} old key(s) retired")
    else:
        click.echo(
            "keys come from [plugins.spotify] token_keys: every token now uses the first "
            "key; remove the old key(s) from the config and restart"
        )


@click.command("generate-key")
def generate_key_command() -> None:
    """Print a new Fernet key (for [plugins.spotify] token_keys)."""
    from .crypto import generate_key

    click.echo(generate_key())


@click.command("setup")
@click.option(
    "--client-id",
    help="The Client ID of your app at developer.spotify.com (replaces a saved one).",
)
@with_app
def setup_command(client_id: str | None) -> None:
    """Show or set the Spotify app SoulSpot signs in with (as the /auth/setup page does).
    A running `soulspot serve` uses a new client id from its next request on."""
    from .first_run import (
        ClientIdError,
        client_id_proven,
        client_id_source,
        save_client_id,
    )
    from .runtime import runtime

    rt = runtime()
    if client_id is not None:
        try:
            save_client_id(rt, client_id, via="cli")
        except ClientIdError as exc:
            fail(f"soulspot setup: {exc}")
        click.echo(f"saved Spotify client id {rt.client_id()}")
    source = client_id_source(rt)
    if source == "none":
        click.echo("client id: none yet (soulspot setup --client-id ID, or the /auth/setup page)")
    else:
        where = _config_origin() if source == "config" else "saved by setup"
        state = "has signed in" if client_id_proven(rt) else "nobody has signed in with it yet"
        click.echo(f"client id: {rt.client_id()} ({where}; {state})")
    click.echo(f"redirect URI to register with Spotify: {rt.redirect_uri()}")
    if source != "none" and not client_id_proven(rt):
        click.echo(f"next: sign in at {rt.origin()}/auth/login")


def _config_origin() -> str:
    """Where the configured client id comes from, as ``config show`` says it: the config
    file, or the environment variable that set it."""
    from soulspot import api

    for row in api.effective_config():
        if row["key"] == "plugins.spotify.client_id":
            source = str(row["source"])
            if source.startswith("env "):
                return f"environment variable {source[4:]}"
            break
    return "config file"


def register(cli: click.Group) -> None:
    cli.add_command(setup_command)
    group = secrets_group(cli)
    group.add_command(rotate_command)
    group.add_command(generate_key_command)
    cli.add_command(sessions_group)
