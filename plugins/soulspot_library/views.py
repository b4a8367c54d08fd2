"""The Library pages (``/library/...``): overview with Sync now, playlists, one playlist with
its timeline, "as of" picker, diff and export, liked songs, albums, artists, the change feed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from pydantic import BaseModel, ConfigDict, Field

from soulspot import api
from soulspot.errors import Problem
from soulspot.validation import validate

from .status import library_status
from .times import BadTime, iso_ms, parse_when

PER_PAGE = 50

bp = Blueprint("library", __name__, template_folder="templates")


class ListQuery(BaseModel):
    """Search, page and "as of" of a list page (unknown parameters are ignored)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    q: str = Field("", max_length=200, description="Search track, artist and album names.")
    page: int = Field(1, ge=1, le=100_000, description="Page number, from 1.")
    at: str = Field(
        "",
        max_length=40,
        description="Show the list as of this ISO 8601 date or time.",
        json_schema_extra={"format": "date-time"},
    )


class PlaylistQuery(ListQuery):
    from_: str = Field(
        "",
        alias="from",
        max_length=40,
        description="Diff: the older version (ISO 8601).",
        json_schema_extra={"format": "date-time"},
    )
    to: str = Field(
        "",
        max_length=40,
        description="Diff: the newer version (ISO 8601; empty: now).",
        json_schema_extra={"format": "date-time"},
    )


class ChangesQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: str = Field("", max_length=32, description="Only changes whose kind starts so.")
    playlist: str = Field("", max_length=64, description="Only changes of this playlist.")
    page: int = Field(1, ge=1, le=100_000)


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    format: str = Field("json", pattern="^(json|csv|m3u8)$", description="json, csv or m3u8.")
    at: str = Field("", max_length=40, description="Export as of this ISO 8601 time.")


class SyncForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    full: str = Field("", max_length=5, description="'1': re-read everything.")


def moment(text: str, what: str = "at") -> float | None:
    if not text:
        return None
    try:
        return parse_when(text, what)
    except BadTime as exc:
        raise Problem(422, "Bad time", str(exc)) from None


@bp.get("/library")
@validate(query=ListQuery)
def overview(query: ListQuery) -> str:
    return render_template("library/overview.html", status=library_status())


@bp.post("/library/sync")
@validate(form=SyncForm, summary="Start a library sync now (in the background).")
def sync_now(form: SyncForm) -> Response:
    from .runner import REAUTHORISE, missing_scopes, sync_running
    from .service import service

    missing = missing_scopes()
    if missing is None:
        flash("Sign in with Spotify first.", "error")
    elif missing:
        flash(f"Spotify: {REAUTHORISE}.", "error")
    elif sync_running():
        flash("A library sync is already running.", "warn")
    elif service().start_background(full=form.full == "1"):
        flash("Sync started.", "ok")
    else:
        flash("A library sync is already running.", "warn")
    return redirect(url_for("library.overview"))  # type: ignore[return-value]


@bp.get("/library/playlists")
@validate(query=ListQuery)
def playlists(query: ListQuery) -> str:
    from .queries import paged, playlists_query

    return render_template(
        "library/playlists.html",
        page=paged(playlists_query(query.q), query.page, PER_PAGE),
        query=query,
    )


@bp.get("/library/playlists/<playlist_id>")
@validate(query=PlaylistQuery)
def playlist(playlist_id: str, query: PlaylistQuery) -> str:
    from .models import Playlist
    from .queries import (
        describe_track,
        diff_playlist,
        entries_query,
        name_as_of,
        paged,
        playlist_versions,
        tracks_by_id,
    )

    row = Playlist.get_or_none(Playlist.id == playlist_id)
    if row is None:
        abort(404)
    at = moment(query.at)
    diff: list[dict[str, Any]] | None = None
    if query.from_:
        changes = diff_playlist(playlist_id, moment(query.from_, "from"), moment(query.to, "to"))
        known = tracks_by_id([c.track_id for c in changes if c.track_id])
        diff = [{"change": c, "what": describe_track(c.track_id, known)} for c in changes]
    return render_template(
        "library/playlist.html",
        playlist=row,
        name=name_as_of(row, at),
        page=paged(entries_query(playlist_id, at, query.q), query.page, PER_PAGE),
        versions=[iso_ms(v) for v in reversed(playlist_versions(playlist_id))],
        query=query,
        diff=diff,
    )


@bp.get("/library/liked")
@validate(query=ListQuery)
def liked(query: ListQuery) -> str:
    from .queries import liked_query, paged

    at = moment(query.at)
    return render_template(
        "library/liked.html",
        page=paged(liked_query(at, query.q), query.page, PER_PAGE),
        query=query,
    )


@bp.get("/library/albums")
@validate(query=ListQuery)
def albums(query: ListQuery) -> str:
    from .queries import albums_query, paged

    at = moment(query.at)
    return render_template(
        "library/albums.html",
        page=paged(albums_query(at, query.q), query.page, PER_PAGE),
        query=query,
    )


@bp.get("/library/artists")
@validate(query=ListQuery)
def artists(query: ListQuery) -> str:
    from .queries import artists_query, paged

    at = moment(query.at)
    return render_template(
        "library/artists.html",
        page=paged(artists_query(at, query.q), query.page, PER_PAGE),
        query=query,
    )


@bp.get("/library/changes")
@validate(query=ChangesQuery)
def changes(query: ChangesQuery) -> str:
    from .feed import feed_rows
    from .queries import changes_query, paged

    page = paged(changes_query(query.kind, query.playlist), query.page, PER_PAGE)
    return render_template(
        "library/changes.html", page=page, rows=feed_rows(page.rows), query=query
    )


@bp.get("/library/export")
@validate(query=ExportQuery)
def export(query: ExportQuery) -> Response:
    from flask import make_response

    from .export import zipped

    at = moment(query.at)
    body = zipped(query.format, at)
    api.audit("library.export_downloaded", format=query.format, at=query.at or "now", via="web")
    stamp = (query.at or "now").replace(":", "")
    resp = make_response(body)
    resp.headers["Content-Type"] = "application/zip"
    resp.headers["Content-Disposition"] = (
        f'attachment; filename="soulspot-library-{query.format}-{stamp}.zip"'
    )
    return resp
