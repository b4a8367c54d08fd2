"""The Collection pages: ``/collection``, ``/collection/missing`` (and its CSV),
``/collection/review`` and ``/collection/files``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, url_for
from pydantic import BaseModel, ConfigDict, Field

from soulspot import api
from soulspot.errors import Problem
from soulspot.validation import validate

from . import overview
from .commands import missing_csv
from .decisions import DecisionError
from .report import status_report
from .service import CollectionService, service

PAGE_SIZE = 50


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    page: int = Field(1, ge=1, le=100_000, description="Page number, from 1.")


class MissingQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    playlist: str | None = Field(
        None, max_length=64, description="Only this playlist (its id, or 'liked')."
    )


class ScanForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    full: bool = Field(False, description="Read every file's tags again.")


class DecideForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    track_id: str = Field(min_length=1, max_length=64)
    decision: str = Field(pattern="^(accept|choose|reject|not_wanted|clear)$")
    file_id: int | None = Field(None, ge=1)
    next: str = Field("", max_length=32, description="Where to go back to (a page number).")


def _svc() -> CollectionService:
    return service(current_app._get_current_object())  # type: ignore[attr-defined]


def make_blueprint() -> Blueprint:
    from .api_views import register_api

    bp = Blueprint(
        "collection",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/collection/static",
    )

    @bp.get("/collection")
    @validate(query=PageQuery)
    def index(query: PageQuery) -> str:
        svc = _svc()
        return render_template(
            "collection/index.html",
            report=status_report(svc),
            scanning=svc.scanning,
            background_error=svc.background_error,
        )

    @bp.post("/collection/scan")
    @validate(form=ScanForm, summary="Start a scan of the music folders.")
    def scan_now(form: ScanForm) -> Response:
        svc = _svc()
        if not svc.config.music_dirs:
            flash("No music folders configured: set [plugins.collection] music_dirs.", "error")
        elif svc.start_scan(full=form.full):
            flash("Scan started; this page shows the result when it has finished.", "ok")
        else:
            flash("A scan is already running.", "warn")
        return redirect(url_for("collection.index"))  # type: ignore[return-value]

    @bp.get("/collection/missing")
    @validate(query=MissingQuery)
    def missing(query: MissingQuery) -> str:
        vault = api.library()
        try:
            items = overview.missing(vault, _svc().standing(), query.playlist or None)
        except KeyError:
            raise Problem(
                404, "No such playlist", f"{query.playlist!r} is not in the library."
            ) from None
        groups: dict[str, dict[str, Any]] = {}
        for item in items:
            group = groups.setdefault(item["list_id"], {"name": item["list"], "items": []})
            group["items"].append(item)
        return render_template(
            "collection/missing.html",
            groups=groups,
            total=len(items),
            lists=overview.lists(vault),
            chosen=query.playlist,
        )

    @bp.get("/collection/missing.csv")
    @validate(query=MissingQuery)
    def missing_export(query: MissingQuery) -> Response:
        try:
            items = overview.missing(api.library(), _svc().standing(), query.playlist or None)
        except KeyError:
            raise Problem(
                404, "No such playlist", f"{query.playlist!r} is not in the library."
            ) from None
        name = f"missing-{query.playlist or 'all'}.csv"
        return Response(
            missing_csv(items),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @bp.get("/collection/review")
    @validate(query=PageQuery)
    def review(query: PageQuery) -> str:
        from .api_views import review_items

        total, items = review_items(PAGE_SIZE, (query.page - 1) * PAGE_SIZE)
        return render_template(
            "collection/review.html",
            items=items,
            total=total,
            page=query.page,
            pages=max(1, -(-total // PAGE_SIZE)),
        )

    @bp.post("/collection/review/decide")
    @validate(form=DecideForm, summary="Record a decision about a track.")
    def decide(form: DecideForm) -> Response:
        svc = _svc()
        try:
            if form.decision == "clear":
                status = svc.clear_decisions(form.track_id)
            else:
                status = svc.decide(form.track_id, form.decision, form.file_id)  # type: ignore[arg-type]
        except DecisionError as exc:
            flash(f"Not recorded: {exc}", "error")
        else:
            flash(f"Recorded: {form.decision.replace('_', ' ')}; the track is now {status}.", "ok")
        page = int(form.next) if form.next.isdigit() else 1
        return redirect(url_for("collection.review", page=page))  # type: ignore[return-value]

    @bp.get("/collection/files")
    @validate(query=PageQuery)
    def files(query: PageQuery) -> str:
        total, items = overview.unmatched_files(PAGE_SIZE, (query.page - 1) * PAGE_SIZE)
        return render_template(
            "collection/files.html",
            items=items,
            total=total,
            unreadable=overview.unreadable_files(500),
            page=query.page,
            pages=max(1, -(-total // PAGE_SIZE)),
        )

    register_api(bp)
    return bp
