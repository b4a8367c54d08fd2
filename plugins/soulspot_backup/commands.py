"""``soulspot backup ...``: create, list, verify, restore, prune and delete backups.

Only click is imported at module level (``soulspot --help`` stays fast); the app and the
service are built inside each command through :func:`soulspot.cli.with_app`.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import click

from soulspot.cli import confirm, fail, with_app

from .point_in_time_cli import print_dry_run, when_option

PASSPHRASE_ENV = "SOULSPOT_BACKUP_PASSPHRASE"  # noqa: S105  # nosec B105


def _progress(message: str) -> None:
    click.echo(f"  {message}", err=True)


def _service() -> Any:
    from soulspot.cli import current_app_from_cli

    from .service import service

    return service(current_app_from_cli())


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size = size / 1000  # type: ignore[assignment]
    return str(size)


def age(created: dt.datetime, now: dt.datetime | None = None) -> str:
    seconds = ((now or dt.datetime.now(dt.UTC)) - created).total_seconds()
    if seconds < 90:
        return f"{max(seconds, 0):.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _ask_passphrase(confirmation: bool) -> str:
    if not sys.stdin.isatty():
        fail(
            f"this needs a passphrase: set {PASSPHRASE_FILE_ENV} (a file holding it) or "
            f"{PASSPHRASE_ENV}, or give --passphrase-file (no terminal to ask on)",
            code=2,
        )
    value: str = click.prompt(
        "Backup passphrase", hide_input=True, confirmation_prompt=confirmation
    )
    return value


def _run(action: Any, passphrase: str | None) -> Any:
    """Run ``action(passphrase)``; on an encrypted archive without passphrase, ask once."""
    from .archive import BackupError, NeedsPassphrase

    try:
        return action(passphrase)
    except NeedsPassphrase:
        if passphrase:
            raise
        try:
            return action(_ask_passphrase(confirmation=False))
        except BackupError as exc:
            fail(str(exc), code=1)
    except BackupError as exc:
        fail(str(exc), code=1)


force_option = click.option(
    "--force-unsigned",
    is_flag=True,
    help="Accept an archive this install cannot authenticate (unsigned: made before backups "
    "were signed, or signed on another machine). Prints a warning; only for a copy you trust.",
)


def _refuse_foreign_owner(ctx: click.Context) -> None:
    """As root, refuse to restore into a data directory another user owns: the restored
    files would belong to root and SoulSpot (running as that user) could not open them."""
    import os

    from soulspot.cli import CliState
    from soulspot.config import ConfigError

    if os.geteuid() != 0:
        return
    state = ctx.find_object(CliState)
    if state is None:
        return
    try:
        settings = state.configuration()[0]
    except ConfigError as exc:
        fail(str(exc))
    data_dir = settings.kernel.data_dir.expanduser()
    if not data_dir.exists() or data_dir.stat().st_uid == 0:
        return
    import pwd

    uid = data_dir.stat().st_uid
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    fail(
        f"refusing to restore as root: {data_dir} belongs to {user}, and files restored by "
        f"root would not. Run it as that user: sudo -u {user} soulspot backup restore ...; "
        "nothing was changed.",
        code=1,
    )


PASSPHRASE_FILE_ENV = "SOULSPOT_BACKUP_PASSPHRASE_FILE"  # noqa: S105  # nosec B105
_FILE_META = "soulspot_backup.passphrase_file"


def _read_passphrase_file(ctx: click.Context, _param: click.Parameter, path: str | None) -> None:
    """``--passphrase-file`` (eager): keep the file's first line for ``--passphrase``."""
    if path is None:
        return
    try:
        with open(path, encoding="utf-8") as fh:
            ctx.meta[_FILE_META] = fh.readline().rstrip("\r\n")
    except OSError as exc:
        fail(f"cannot read the passphrase file {path} ({exc.strerror})", code=2)


def _pick_passphrase(ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """The passphrase from, in order: the command line (with a warning: other local users
    see it in ps), the file, the environment; ``None`` lets the command ask."""
    from click.core import ParameterSource

    if value is not None and ctx.get_parameter_source("passphrase") is ParameterSource.COMMANDLINE:
        click.echo(
            "warning: a passphrase on the command line is visible to other users of this "
            f"machine (ps, shell history); prefer --passphrase-file, {PASSPHRASE_FILE_ENV}, "
            f"{PASSPHRASE_ENV} or the prompt",
            err=True,
        )
        return value
    from_file = ctx.meta.get(_FILE_META)
    return from_file if from_file is not None else value


def passphrase_option(command: Any) -> Any:
    """``--passphrase-file`` / ``SOULSPOT_BACKUP_PASSPHRASE_FILE``, ``SOULSPOT_BACKUP_PASSPHRASE``
    or the prompt; ``--passphrase`` still works, with a warning."""
    command = click.option(
        "--passphrase",
        envvar=PASSPHRASE_ENV,
        callback=_pick_passphrase,
        help=f"Passphrase of encrypted backups; visible in ps: prefer --passphrase-file, "
        f"{PASSPHRASE_ENV} or the prompt on a terminal.",
    )(command)
    return click.option(
        "--passphrase-file",
        envvar=PASSPHRASE_FILE_ENV,
        type=click.Path(dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=_read_passphrase_file,
        help=f"Read the passphrase from the first line of this file (or {PASSPHRASE_FILE_ENV}).",
    )(command)


def register(cli: click.Group) -> None:
    @cli.group("backup")
    def backup() -> None:
        """Create, list, verify, restore, prune and delete backups."""

    @backup.command("create")
    @click.option(
        "--encrypt",
        is_flag=True,
        help="Encrypt the backup and include keys (asks for a passphrase unless given).",
    )
    @passphrase_option
    @with_app
    def create(encrypt: bool, passphrase: str | None) -> None:
        """Take a backup now, verify it and print its id."""
        svc = _service()
        if encrypt and not passphrase and not svc.default_passphrase():
            passphrase = _ask_passphrase(confirmation=True)
        click.echo("backing up", err=True)
        info = _run(lambda p: svc.create("manual", p, _progress), passphrase)
        click.echo(
            f"backup verified: {_size(info.size)}, "
            f"{'encrypted' if info.encrypted else 'plain (no keys)'}",
            err=True,
        )
        click.echo(info.id)

    @backup.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
    @with_app(read_only=True)
    def list_command(as_json: bool) -> None:
        """List backups, newest first."""
        backups = _service().backups()
        if as_json:
            click.echo(json.dumps([b.as_dict() for b in backups], indent=2))
            return
        if not backups:
            click.echo("no backups yet (take one with `soulspot backup create`)")
            return
        click.echo(f"{'ID':<38} {'AGE':>6} {'TRIGGER':<13} {'SIZE':>9} {'ENC':<3} VERIFIED")
        for b in backups:
            verified = {True: "ok", False: "FAILED", None: "not yet"}[b.verified]
            click.echo(
                f"{b.id:<38} {age(b.created_at):>6} {b.trigger:<13} {_size(b.size):>9} "
                f"{'yes' if b.encrypted else 'no':<3} {verified}"
            )

    @backup.command("verify")
    @click.argument("backup")
    @passphrase_option
    @force_option
    @with_app
    def verify(backup: str, passphrase: str | None, force_unsigned: bool) -> None:
        """Check BACKUP (an id from `list`, or the path of an archive file: verify the copy
        you will restore from): checksums, signature, each snapshot (integrity check of the
        database)."""
        svc = _service()
        click.echo(f"verifying {backup}", err=True)
        problems = _run(
            lambda p: svc.verify(backup, p, _progress, force_unsigned=force_unsigned), passphrase
        )
        if problems:
            for problem in problems:
                click.echo(f"problem: {problem}", err=True)
            fail(
                f"backup {backup} is damaged or cannot be authenticated: do not restore it", code=1
            )
        click.echo(f"backup {backup} verified: sound")

    @with_app
    def _restore(
        backup: str, passphrase: str | None, force_unsigned: bool, skip_config: bool
    ) -> Any:
        from soulspot.api import claim_data_dir
        from soulspot.config import ConfigError

        svc = _service()
        pid = svc.serving_pid()
        if pid is not None:
            fail(
                f"SoulSpot is serving this data directory (pid {pid}): stop `soulspot serve` "
                "first, or restore from the Backups page; nothing was changed.",
                code=1,
            )
        try:
            with claim_data_dir("soulspot backup restore"):
                return _run(
                    lambda p: svc.restore(
                        backup,
                        p,
                        _progress,
                        force_unsigned=force_unsigned,
                        skip_config=skip_config,
                    ),
                    passphrase,
                )
        except ConfigError as exc:  # the data directory is in use
            fail(f"{exc}", code=1)

    @with_app
    def _restore_to(at: dt.datetime | None, dry_run: bool) -> Any:
        from soulspot.api import claim_data_dir
        from soulspot.config import ConfigError

        from .archive import BackupError

        svc = _service()
        try:
            if dry_run:  # reads the replica only: fine while SoulSpot serves
                return svc.restore_to(at, _progress, dry_run=True)
            pid = svc.serving_pid()
            if pid is not None:
                fail(
                    f"SoulSpot is serving this data directory (pid {pid}): stop `soulspot "
                    "serve` first, or restore from the Backups page; nothing was changed.",
                    code=1,
                )
            with claim_data_dir("soulspot backup restore"):
                return svc.restore_to(at, _progress)
        except BackupError as exc:
            fail(str(exc), code=1)
        except ConfigError as exc:  # the data directory is in use
            fail(f"{exc}", code=1)

    @backup.command("restore")
    @click.argument("backup", required=False)
    @click.option(
        "--at",
        "at",
        metavar="WHEN",
        callback=when_option,
        help="Restore the database to this moment from the replica (ISO 8601, e.g. "
        "2026-12-03T17:20:00Z; without an offset: this machine's local time).",
    )
    @click.option("--latest", is_flag=True, help="Restore the latest moment the replica holds.")
    @click.option(
        "--dry-run",
        is_flag=True,
        help="With --at/--latest: restore into a temporary file and report what it would "
        "bring back (time, size, rows per table); nothing is changed.",
    )
    @passphrase_option
    @force_option
    @click.option(
        "--skip-config",
        is_flag=True,
        help="Leave the config file as it is (it is also skipped, with a note, where this "
        "user cannot write it).",
    )
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @click.pass_context
    def restore(
        ctx: click.Context,
        backup: str | None,
        at: dt.datetime | None,
        latest: bool,
        dry_run: bool,
        passphrase: str | None,
        force_unsigned: bool,
        skip_config: bool,
        yes: bool,
    ) -> None:
        """Restore BACKUP (an id from `list`, or the path of an archive file), or the
        database to a moment from the replica (--at WHEN, --latest).

        The archive (or the replica's copy) is checked first (checksums, signature,
        schema); the current data is backed up (or, when too damaged, set aside) before it
        is replaced; the app is in maintenance meanwhile. Works when the database is
        missing or too damaged for SoulSpot to start. Run it as the user SoulSpot runs as."""
        from .startup import RECOVERY

        chosen = [
            what for what, on in (("BACKUP", backup), ("--at", at), ("--latest", latest)) if on
        ]
        if len(chosen) != 1:
            fail(
                "name what to restore: a BACKUP, --at WHEN or --latest (exactly one; got "
                f"{', '.join(chosen) or 'none'}); nothing was changed",
                code=2,
            )
        if dry_run and backup is not None:
            fail(
                "--dry-run is for --at/--latest; check an archive with `soulspot backup "
                "verify BACKUP`; nothing was changed",
                code=2,
            )
        _refuse_foreign_owner(ctx)
        if backup is None:
            if not dry_run:
                what = "the latest moment of the replica" if latest else f"{at:%Y-%m-%dT%H:%M:%S}Z"
                confirm(
                    f"Replace the current database with its state at {what}? (A pre-restore "
                    "backup is taken first; stop `soulspot serve` before restoring from the "
                    "command line.)",
                    yes,
                )
            token = RECOVERY.set(True)
            try:
                report = _restore_to(None if latest else at, dry_run)
            finally:
                RECOVERY.reset(token)
            if dry_run:
                print_dry_run(report)
                return
            click.echo(f"restored the database as of {report['at']}")
            click.echo(f"the previous state is kept in {report['pre_restore']}")
            if report["migrations"]:
                click.echo(f"migrated: {', '.join(report['migrations'])}")
            return
        confirm(
            f"Replace the current data with backup {backup}? (A pre-restore backup is taken "
            "first; stop `soulspot serve` before restoring from the command line.)",
            yes,
        )
        token = RECOVERY.set(True)
        try:
            summary = _restore(backup, passphrase, force_unsigned, skip_config)
        finally:
            RECOVERY.reset(token)
        for note in summary.get("notes") or []:
            click.echo(note, err=True)
        click.echo(f"restored {summary['backup_id']} ({', '.join(summary['sources']) or '-'})")
        click.echo(f"the previous state is kept in {summary['pre_restore']}")
        if summary["migrations"]:
            click.echo(f"migrated: {', '.join(summary['migrations'])}")

    @backup.command("prune")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @with_app(read_only=True)
    def prune(yes: bool) -> None:
        """Apply retention now (manual and pre-restore backups are never pruned)."""
        from .archive import BackupError
        from .retention import to_prune

        svc = _service()
        try:
            doomed = to_prune(svc.candidates(), svc.policy())
            if not doomed:
                click.echo("pruned 0 backup(s): retention keeps every backup")
                return
            confirm(f"Delete {len(doomed)} backup(s) for good ({', '.join(doomed)})?", yes)
            removed = svc.prune(_progress)
        except BackupError as exc:
            fail(str(exc), code=1)
        click.echo(f"pruned {len(removed)} backup(s)")

    @backup.command("delete")
    @click.argument("backup_id")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @with_app(read_only=True)
    def delete(backup_id: str, yes: bool) -> None:
        """Delete one backup for good."""
        from .archive import BackupError

        svc = _service()
        try:
            svc.get(backup_id)
            confirm(f"Delete backup {backup_id} for good?", yes)
            svc.delete(backup_id)
        except BackupError as exc:
            fail(str(exc), code=1)
        click.echo(f"deleted {backup_id}")
