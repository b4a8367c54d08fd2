"""``soulspot collection scan | status | missing | export-playlists``.

Only click is imported at module level (``soulspot --help`` stays fast); the app and the
service are built inside each command through :func:`soulspot.cli.with_app`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import click

from soulspot.cli import fail, with_app

CSV_FIELDS = ("list", "list_id", "position", "artists", "title", "album", "duration", "spotify_url")


def _service() -> Any:
    from soulspot.cli import current_app_from_cli

    from .service import service

    return service(current_app_from_cli())


def missing_csv(items: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for item in items:
        seconds: int | None = round(item["duration_ms"] / 1000) if item["duration_ms"] else None
        writer.writerow(
            [
                item["list"],
                item["list_id"],
                item["position"],
                "; ".join(item["artists"]),
                item["title"],
                item["album"] or "",
                f"{seconds // 60}:{seconds % 60:02d}" if seconds is not None else "",
                item["spotify_url"] or "",
            ]
        )
    return out.getvalue()


def register(cli: click.Group) -> None:
    @cli.group("collection")
    def collection() -> None:
        """Your music folder: scan it, see what is missing, export playlists."""

    @collection.command("scan")
    @click.option("--full", is_flag=True, help="Read every file's tags again, changed or not.")
    @with_app
    def scan(full: bool) -> None:
        """Scan the music folders (only changed files are read) and rematch."""
        from .scanner import ScanBusy

        svc = _service()
        if not svc.config.music_dirs:
            fail("no music folders configured: set [plugins.collection] music_dirs", code=2)
        bar: Any = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = click.progressbar(length=total, label="Scanning", file=sys.stderr)
                bar.__enter__()
            bar.update(done - bar.pos)

        try:
            outcome = svc.scan(full=full, progress=progress)
        except ScanBusy as exc:
            fail(str(exc), code=1)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
        s, r = outcome.scan, outcome.rematch
        click.echo(
            f"{s.seen} files: {s.new} new, {s.changed} changed, {s.removed} removed, "
            f"{s.read} read, {s.unreadable} unreadable ({s.duration:.1f}s)"
        )
        for path, reason in s.problems:
            click.echo(f"  problem: {path}: {reason}", err=True)
        for path in s.loops:
            click.echo(f"  skipped (already scanned, a symlink loop or repeat): {path}", err=True)
        click.echo(
            f"{r.tracks} tracks rematched: {r.matched} matched, {r.review} to review, "
            f"{r.missing} missing, {r.not_wanted} not wanted"
        )

    @collection.command("status")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @with_app(read_only=True)
    def status(as_json: bool) -> None:
        """Files, matched share of liked songs and of each playlist, last scan."""
        from .report import status_report

        report = status_report(_service())
        if as_json:
            click.echo(json.dumps(report, indent=2))
            return
        files, counts, scan_info = report["files"], report["tracks"], report["last_scan"]
        click.echo(f"files: {files['files']} ({files['unreadable']} unreadable)")
        click.echo(
            f"tracks: {counts['matched']} matched, {counts['review']} to review, "
            f"{counts['missing']} missing, {counts['not_wanted']} not wanted"
        )
        if scan_info is None:
            click.echo("last scan: never")
        else:
            click.echo(
                f"last scan: {scan_info['finished_at'] or scan_info['started_at']} "
                f"({scan_info['status']}, {scan_info['files_seen']} files)"
            )
        for item in report["lists"]:
            click.echo(
                f"  {item['matched_share'] * 100:5.1f}%  {item['matched']}/{item['tracks']}  "
                f"{item['name']}  [{item['id']}]"
            )

    @collection.command("missing")
    @click.option("--playlist", "playlist_id", help="Only this playlist (id, or 'liked').")
    @click.option("--csv", "as_csv", is_flag=True, help="Print CSV (list, artists, title...).")
    @with_app(read_only=True)
    def missing(playlist_id: str | None, as_csv: bool) -> None:
        """Tracks of your liked songs and playlists that you have no file of."""
        from soulspot import api

        from .overview import missing as find_missing

        try:
            items = find_missing(api.library(), _service().standing(), playlist_id)
        except KeyError:
            fail(f"no playlist {playlist_id!r} in the library (use an id from 'status')", code=2)
        if as_csv:
            click.echo(missing_csv(items), nl=False)
            return
        for item in items:
            click.echo(f"{item['list']}\t{', '.join(item['artists'])} - {item['title']}")
        click.echo(f"{len(items)} missing", err=True)

    @collection.command("export-playlists")
    @click.option(
        "--out",
        "out_dir",
        required=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Folder for the M3U8 files (created).",
    )
    @with_app(read_only=True)
    def export_playlists(out_dir: Path) -> None:
        """Write one M3U8 per playlist and for liked songs, paths relative to the folder."""
        from soulspot import api

        from .playlists import export

        try:
            written = export(api.library(), _service().standing(), out_dir)
        except OSError as exc:
            fail(f"cannot write playlists into {out_dir}: {exc.strerror or exc}", code=1)
        for item in written:
            click.echo(f"{item.path}  {item.tracks} tracks ({item.skipped} not matched)")
        api.audit("collection.playlists_exported", folder=str(out_dir), playlists=len(written))
