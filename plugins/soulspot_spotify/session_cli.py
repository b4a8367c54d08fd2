"""``soulspot sessions list|revoke``: the signed-in sessions, from a terminal.

The way out when the browser cannot help: a lost laptop, a cookie that leaked, or pages that
will not answer. Works with the server running or stopped: the store is shared (SQLite in
WAL mode), and a session revoked here stops working on the running server at once (the
store tells every process's session cache, see ``[plugins.sqlite] session_cache_seconds``).
"""

from __future__ import annotations

import json
from typing import Any

import click

from soulspot.cli import fail, with_app

#: Characters of a session id shown by ``list`` (and the fewest ``revoke`` accepts).
SHORT_ID = 12
MIN_PREFIX = 8


@click.group("sessions")
def sessions_group() -> None:
    """Signed-in sessions: list them, revoke one or all."""


def _when(value: Any) -> str:
    return str(value.strftime("%Y-%m-%d %H:%M"))


@sessions_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per session.")
@with_app(read_only=True)
def list_command(as_json: bool) -> None:
    """List active sessions, most recently seen first (never a cookie)."""
    from .runtime import runtime
    from .sessions import describe

    rows = [describe(r) for r in runtime().sessions.active()]
    rows.sort(key=lambda r: r["last_seen"], reverse=True)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, sort_keys=True, default=lambda v: v.isoformat()))
        return
    if not rows:
        click.echo("no active sessions")
        return
    click.echo(
        f"{'ID':<{SHORT_ID + 2}}{'USER':<18}{'SIGNED IN':<18}{'LAST SEEN':<18}"
        f"{'ADDRESS':<17}BROWSER"
    )
    for row in rows:
        click.echo(
            f"{row['id'][:SHORT_ID]:<{SHORT_ID + 2}}{row['user_id'][:17]:<18}"
            f"{_when(row['created_at']):<18}{_when(row['last_seen']):<18}"
            f"{(row['ip'] or '-')[:16]:<17}{(row['user_agent'] or '-')[:60]}"
        )


def _find(prefix: str) -> Any:
    """The one active session whose id starts with ``prefix``; exits with a clear message
    when there is none or more than one."""
    from .runtime import runtime

    wanted = prefix.strip().lower()
    if len(wanted) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in wanted):
        fail(
            f"sessions revoke: {prefix!r} is not a session id: give the ID column of "
            f"`soulspot sessions list` (at least {MIN_PREFIX} hex characters)"
        )
    matches = [r for r in runtime().sessions.active() if r.id.startswith(wanted)]
    if not matches:
        fail(
            f"sessions revoke: no active session with id {prefix!r} (see `soulspot sessions list`)"
        )
    if len(matches) > 1:
        fail(f"sessions revoke: {prefix!r} matches {len(matches)} sessions: give more of the id")
    return matches[0]


@sessions_group.command("revoke")
@click.argument("session_id", required=False)
@click.option("--all", "revoke_all", is_flag=True, help="Revoke every session of every user.")
@with_app(read_only=True)
def revoke_command(session_id: str | None, revoke_all: bool) -> None:
    """Revoke the session with this ID (see `soulspot sessions list`), or all of them."""
    from soulspot import api

    from .runtime import runtime, utcnow

    if revoke_all == (session_id is not None):
        fail("sessions revoke: give a session ID or --all (not both)")
    store = api.storage().sessions
    if session_id is not None:
        record = _find(session_id)
        with api.storage().write_transaction():
            store.delete(record.id)
        api.audit(
            "auth.session_revoked", actor="cli", via="cli", session_user=record.user_id, own=False
        )
        click.echo(f"revoked session {record.id[:SHORT_ID]} ({record.user_id})")
        return
    now = utcnow()
    with api.storage().write_transaction():
        users = {r.user_id for r in store.list_active(now)}
        count = sum(store.delete_for_user(user) for user in sorted(users))
        runtime().sessions.purge()  # and the rows that had already ended
    api.audit("auth.sessions_revoked_all", actor="cli", via="cli", count=count)
    click.echo(f"revoked {count} session(s); everyone must sign in again")
