"""``soulspot library ...``: sync, status, diff, export. Import-light: click only."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from soulspot.cli import fail, with_app


@click.group("library", help="The vault of your Spotify library: sync, status, diff, export.")
def library_group() -> None:
    pass


class ProgressBar:
    """A one-line progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.shown = False

    def __call__(self, step: str, done: int, total: int) -> None:
        if not self.tty:
            return
        width = 30
        filled = int(width * done / total) if total else 0
        text = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {step[:40]:<40}"
        click.echo(text, nl=False, err=True)
        self.shown = True

    def close(self) -> None:
        if self.shown:
            click.echo("", err=True)


@library_group.command("sync")
@click.option("--full", is_flag=True, help="Re-read everything, not only what changed.")
@with_app
def sync_command(full: bool) -> None:
    """Sync the vault with Spotify now (one run at a time)."""
    from .runner import SyncRefused, sync
    from .service import service

    bar = ProgressBar()
    try:
        outcome = sync(full=full, trigger="cli", progress=bar, metrics=service().metrics)
    except SyncRefused as exc:
        fail(f"library sync: {exc}", code=1)
        return
    finally:
        bar.close()
    click.echo(
        f"library sync {outcome.status}: {outcome.changes} change(s), "
        f"{outcome.requests} request(s) to Spotify"
    )
    if outcome.message:
        click.echo(outcome.message, err=True)
    if outcome.status != "ok":
        sys.exit(1)


@library_group.command("status")
@with_app(read_only=True)
def status_command() -> None:
    """Counts, the last runs and the next scheduled one."""
    from .queries import counts, last_runs
    from .runner import REAUTHORISE, missing_scopes
    from .service import service
    from .times import iso

    c = counts()
    click.echo(
        f"playlists: {c['playlists']} (+{c['removed_playlists']} removed from Spotify), "
        f"entries: {c['entries']}, liked songs: {c['liked']}, albums: {c['albums']}, "
        f"artists: {c['artists']}, changes recorded: {c['changes']}"
    )
    missing = missing_scopes()
    if missing is None:
        click.echo("spotify: nobody has signed in yet")
    elif missing:
        click.echo(f"spotify: {REAUTHORISE} (missing {', '.join(sorted(missing))})")
    nxt = service().next_run()
    click.echo(f"next scheduled sync: {nxt.strftime('%Y-%m-%dT%H:%M:%SZ') if nxt else 'off'}")
    runs = last_runs(5)
    if not runs:
        click.echo("no sync has run yet")
    for run in runs:
        click.echo(
            f"{iso(run.started_at)} {run.status:<11} {run.changes} change(s), "
            f"{run.requests} request(s){'  ' + run.message if run.message else ''}"
        )


@library_group.command("diff")
@click.argument("playlist_id")
@click.option("--from", "from_", metavar="WHEN", help="Older version (default: the first).")
@click.option("--to", "to", metavar="WHEN", help="Newer version (default: now).")
@with_app(read_only=True)
def diff_command(playlist_id: str, from_: str | None, to: str | None) -> None:
    """What changed in a playlist (or `liked`) between two moments."""
    from .models import Playlist
    from .queries import describe_track, diff_liked, diff_playlist, tracks_by_id
    from .times import BadTime, parse_when

    try:
        old_at = parse_when(from_, "--from") if from_ else None
        new_at = parse_when(to, "--to") if to else None
    except BadTime as exc:
        fail(str(exc))
        return
    if playlist_id == "liked":
        added, removed = diff_liked(old_at, new_at)
        known = tracks_by_id([*added, *removed])
        for track_id in added:
            click.echo(f"+ {describe_track(track_id, known)}")
        for track_id in removed:
            click.echo(f"- {describe_track(track_id, known)}")
        click.echo(f"{len(added)} liked, {len(removed)} un-liked")
        return
    if Playlist.get_or_none(Playlist.id == playlist_id) is None:
        fail(f"no playlist {playlist_id!r} in the vault (see `soulspot library status`)", code=1)
        return
    changes = diff_playlist(playlist_id, old_at, new_at)
    known = tracks_by_id([c.track_id for c in changes if c.track_id])
    for change in changes:
        what = describe_track(change.track_id, known)
        if change.kind == "added":
            click.echo(f"+ {change.position}: {what}")
        elif change.kind == "removed":
            click.echo(f"- {change.old_position}: {what}")
        else:
            click.echo(f"~ {change.old_position} -> {change.position}: {what}")
    counts = {k: sum(1 for c in changes if c.kind == k) for k in ("added", "removed", "moved")}
    click.echo(f"{counts['added']} added, {counts['removed']} removed, {counts['moved']} moved")


@library_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "m3u8"]), required=True)
@click.option("--at", metavar="WHEN", help="Export the vault as of this moment (default: now).")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True)
@with_app(read_only=True)
def export_command(fmt: str, at: str | None, out: Path) -> None:
    """Write the library as JSON (lossless), CSV (Exportify's columns) or M3U8 files."""
    from soulspot import api

    from .export import write
    from .times import BadTime, parse_when

    try:
        moment = parse_when(at, "--at") if at else None
    except BadTime as exc:
        fail(str(exc))
        return
    try:
        written = write(fmt, moment, out)
    except OSError as exc:
        fail(f"cannot write the export to {out}: {exc.strerror or exc}", code=1)
        return
    api.audit("library.export_downloaded", format=fmt, at=at or "now", via="cli")
    click.echo(f"wrote {len(written)} file(s) to {out}")


def register(cli: click.Group) -> None:
    cli.add_command(library_group)
