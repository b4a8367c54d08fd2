"""The JSON API under ``/api/collection/…`` (validated, in the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field

from soulspot import api
from soulspot.errors import Problem
from soulspot.validation import NoParams, validate

from . import overview
from .decisions import DecisionError, UnknownTarget
from .report import status_report
from .service import CollectionService, service


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=500, description="At most this many items.")
    offset: int = Field(0, ge=0, le=10_000_000, description="Skip this many items.")


class MissingParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    playlist: str | None = Field(
        None, max_length=64, description="Only this playlist (its id, or 'liked')."
    )


class ScanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full: bool = Field(False, description="Read every file's tags again, changed or not.")


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    track_id: str = Field(min_length=1, max_length=64, description="The Spotify track id.")
    decision: Literal["accept", "choose", "reject", "not_wanted"] = Field(
        description="accept or choose a file, reject one, or mark the track not wanted."
    )
    file_id: int | None = Field(None, ge=1, description="The local file (not for not_wanted).")


class StatusOut(BaseModel):
    music_dirs: list[str]
    files: dict[str, int]
    tracks: dict[str, int]
    last_scan: dict[str, Any] | None
    library: bool
    lists: list[dict[str, Any]]
    scanning: bool


class ItemsOut(BaseModel):
    total: int
    items: list[dict[str, Any]]


class DecisionOut(BaseModel):
    track_id: str
    status: str


class ScanStarted(BaseModel):
    started: bool


def _svc() -> CollectionService:
    return service(current_app._get_current_object())  # type: ignore[attr-defined]


def review_items(limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """Tracks needing review with their candidates (file details and scores)."""
    svc = _svc()
    total, ids = overview.review_ids(limit, offset)
    tracks = {t.id: t for t in api.library().tracks(ids)}
    candidates = svc.candidates_of(ids)
    files = svc.files_by_id(sorted({f for c in candidates.values() for f, _ in c}))
    items = []
    for track_id in ids:
        track = tracks.get(track_id)
        if track is None:
            continue
        items.append(
            {
                **overview.track_dict(track),
                "candidates": [
                    {"score": score, "file": overview.file_dict(files[file_id])}
                    for file_id, score in candidates.get(track_id, [])
                    if file_id in files
                ],
            }
        )
    return total, items


def register_api(bp: Blueprint) -> None:
    @bp.get("/api/collection/status")
    @validate(query=NoParams, response=StatusOut, summary="Files, standings, shares, last scan.")
    def api_status(query: NoParams) -> Response:
        svc = _svc()
        return jsonify({**status_report(svc), "scanning": svc.scanning})

    @bp.post("/api/collection/scan")
    @validate(
        body=ScanBody,
        response=ScanStarted,
        status=202,
        summary="Start a scan in the background.",
        errors={409: "A scan is already running, or no music folders are configured."},
    )
    def api_scan(body: ScanBody) -> tuple[Response, int]:
        svc = _svc()
        if not svc.config.music_dirs:
            raise Problem(409, "No music folders", "Set [plugins.collection] music_dirs first.")
        if not svc.start_scan(full=body.full):
            raise Problem(409, "Scan running", "A scan is already running; try again later.")
        return jsonify({"started": True}), 202

    @bp.get("/api/collection/missing")
    @validate(
        query=MissingParams,
        response=ItemsOut,
        summary="Missing tracks, per list.",
        errors={404: "No such playlist in the library."},
    )
    def api_missing(query: MissingParams) -> Response:
        try:
            items = overview.missing(api.library(), _svc().standing(), query.playlist or None)
        except KeyError:
            raise Problem(
                404, "No such playlist", f"{query.playlist!r} is not in the library."
            ) from None
        return jsonify({"total": len(items), "items": items})

    @bp.get("/api/collection/review")
    @validate(query=ListQuery, response=ItemsOut, summary="Tracks to review, with candidates.")
    def api_review(query: ListQuery) -> Response:
        total, items = review_items(query.limit, query.offset)
        return jsonify({"total": total, "items": items})

    @bp.post("/api/collection/decisions")
    @validate(
        body=DecisionBody,
        response=DecisionOut,
        summary="Record the owner's decision about a track (kept across scans and syncs).",
        errors={
            404: "No such track in the library, or no such file.",
            409: "The decision needs a file, or the file is not present or not readable.",
        },
    )
    def api_decide(body: DecisionBody) -> Response:
        try:
            status = _svc().decide(body.track_id, body.decision, body.file_id)
        except UnknownTarget as exc:
            raise Problem(404, "Not found", str(exc)) from None
        except DecisionError as exc:
            raise Problem(409, "Decision not recorded", str(exc)) from None
        return jsonify({"track_id": body.track_id, "status": status})

    @bp.delete("/api/collection/decisions/<track_id>")
    @validate(
        query=NoParams,
        response=DecisionOut,
        summary="Forget the decisions about a track.",
        errors={404: "Not a track id."},
    )
    def api_clear(track_id: str, query: NoParams) -> Response:
        if len(track_id) > 64:
            raise Problem(404, "No such track", "Track ids are at most 64 characters.")
        status = _svc().clear_decisions(track_id)
        return jsonify({"track_id": track_id, "status": status})

    @bp.get("/api/collection/files")
    @validate(query=ListQuery, response=ItemsOut, summary="Local files matching no track.")
    def api_files(query: ListQuery) -> Response:
        total, items = overview.unmatched_files(query.limit, query.offset)
        return jsonify({"total": total, "items": items})

    @bp.get("/api/collection/unreadable")
    @validate(query=ListQuery, response=ItemsOut, summary="Files that cannot be read, and why.")
    def api_unreadable(query: ListQuery) -> Response:
        items = overview.unreadable_files(query.limit + query.offset)[query.offset :]
        return jsonify({"total": len(items), "items": items})
