"""The Backups page (``/backups``) and its JSON twin (``/api/backups``)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from pydantic import BaseModel, ConfigDict, Field

from soulspot import api
from soulspot.errors import Problem
from soulspot.validation import NoParams, PageParams, validate

from .archive import BackupError, NeedsPassphrase, WrongPassphrase, valid_id
from .commands import age
from .folder import BackupInfo
from .service import BackupService, service
from .web_text import for_web

CONFIRM_WORD = "restore"


class CreateForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    passphrase: str = Field("", max_length=1024, description="Encrypt with this passphrase.")


class VerifyForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    passphrase: str = Field("", max_length=1024, description="Passphrase of an encrypted backup.")


class RestoreForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    confirm: str = Field(description=f"Must be the word '{CONFIRM_WORD}'.")
    passphrase: str = Field("", max_length=1024, description="Passphrase of an encrypted backup.")


class RestorePointForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    at: str = Field(max_length=64, description="The moment (ISO 8601; no offset: UTC).")
    confirm: str = Field("", description=f"Must be the word '{CONFIRM_WORD}' to restore.")
    dry_run: bool = Field(False, description="Only report what the moment holds.")


class DeleteForm(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UploadForm(BaseModel):
    """The archive itself is the multipart file field ``archive``."""

    model_config = ConfigDict(extra="ignore")
    confirm: str = Field(description=f"Must be the word '{CONFIRM_WORD}'.")
    passphrase: str = Field("", max_length=1024, description="Passphrase of an encrypted archive.")
    force_unsigned: bool = Field(
        False,
        description="Restore even an archive this install cannot authenticate (unsigned, or "
        "signed with another machine's key): its checksums and schema are still checked.",
    )


class BackupOut(BaseModel):
    id: str
    file: str
    created_at: str
    trigger: str
    encrypted: bool
    size: int
    verified: bool | None
    verified_at: str | None
    problems: list[str]


class BackupList(BaseModel):
    backups: list[BackupOut]


def _svc() -> BackupService:
    return service(current_app._get_current_object())  # type: ignore[attr-defined]


def _find(backup_id: str) -> BackupInfo:
    if not valid_id(backup_id):
        raise Problem(404, "No such backup", f"{backup_id!r} is not a backup id.")
    try:
        return _svc().get(backup_id)
    except BackupError as exc:
        raise Problem(404, "No such backup", for_web(str(exc))) from None


#: Sizes on the page are in one unit, MB (10**6 bytes), so a column compares at a glance.
def _size(size: int) -> str:
    megabytes = size / 1_000_000
    return f"{megabytes:,.2f} MB" if megabytes < 10 else f"{megabytes:,.1f} MB"


def _cap(size: int) -> str:
    """A configured limit, in the page's one unit, without false precision."""
    return f"{size / 1_000_000:,.0f} MB"


def _owner_only(what: str) -> None:
    if not api.is_owner():
        raise Problem(403, "Owner only", f"Only the owner of this SoulSpot may {what}.")


def _upload_cap() -> int:
    return _svc().config.upload_max_bytes


def make_blueprint() -> Blueprint:
    bp = Blueprint("backup", __name__, template_folder="templates")

    @bp.get("/backups")
    @validate(query=PageParams)
    def index(query: PageParams) -> str:
        return _index()

    def _index(point_report: dict[str, Any] | None = None) -> str:
        from soulspot import api

        from .point_in_time import window

        svc = _svc()
        replicated = api.point_in_time_source() is not None
        now = dt.datetime.now(dt.UTC)
        rows: list[dict[str, Any]] = [
            {"info": b, "age": age(b.created_at, now), "size": _size(b.size)} for b in svc.backups()
        ]
        return render_template(
            "backup/index.html",
            rows=rows,
            folder=str(svc.dir),
            confirm_word=CONFIRM_WORD,
            failure=svc.last_failure(),
            encrypted_default=svc.default_passphrase() is not None,
            point_window=(window() or {}) if replicated else None,
            point_report=point_report,
            docs_url=api.docs_url("backup.md"),
            upload_cap=_cap(svc.config.upload_max_bytes),
            may_upload=api.is_owner(),
        )

    @bp.get("/api/backups")
    @validate(query=NoParams, response=BackupList, summary="List backups, newest first.")
    def api_list(query: NoParams) -> Response:
        return jsonify({"backups": [b.as_dict() for b in _svc().backups()]})

    @bp.post("/backups/create")
    @validate(form=CreateForm, summary="Take a backup now.")
    def create(form: CreateForm) -> Response:
        try:
            info = _svc().create("manual", form.passphrase or None)
        except BackupError as exc:
            flash(f"Backup failed: {for_web(str(exc))}", "error")
        else:
            flash(f"Backup {info.id} taken and verified ({_size(info.size)}).", "ok")
        return redirect(url_for("backup.index"))  # type: ignore[return-value]

    @bp.post("/backups/<backup_id>/verify")
    @validate(form=VerifyForm, summary="Verify one backup.")
    def verify(backup_id: str, form: VerifyForm) -> Response:
        _find(backup_id)
        try:
            problems = _svc().verify(backup_id, form.passphrase or None)
        except (NeedsPassphrase, WrongPassphrase) as exc:
            flash(for_web(str(exc)), "error")
        else:
            if problems:
                flash(f"Backup {backup_id} is damaged: {'; '.join(problems)}", "error")
            else:
                flash(f"Backup {backup_id} verified: sound.", "ok")
        return redirect(url_for("backup.index"))  # type: ignore[return-value]

    @bp.get("/backups/<backup_id>/download")
    @validate(query=PageParams)
    def download(backup_id: str, query: PageParams) -> Response:
        info = _find(backup_id)
        return send_file(
            info.path,
            mimetype="application/octet-stream",
            as_attachment=True,
            download_name=info.path.name,
            max_age=0,
        )

    @bp.post("/backups/<backup_id>/restore")
    @validate(form=RestoreForm, summary="Restore one backup (type 'restore' to confirm).")
    def restore(backup_id: str, form: RestoreForm) -> Response:
        _find(backup_id)
        if form.confirm.strip() != CONFIRM_WORD:
            raise Problem(
                422,
                "Confirmation missing",
                f"Type the word '{CONFIRM_WORD}' to confirm; nothing was changed.",
            )
        try:
            summary = _svc().restore(backup_id, form.passphrase or None)
        except BackupError as exc:
            flash(f"Not restored: {for_web(str(exc))}", "error")
        else:
            flash(
                f"Backup {backup_id} restored. The state before it is kept in "
                f"{summary['pre_restore']}.",
                "ok",
            )
        return redirect(url_for("backup.index"))  # type: ignore[return-value]

    @bp.post("/backups/restore-point")
    @validate(
        form=RestorePointForm,
        summary="Restore the database to a moment from the replica (or a dry run of it).",
    )
    def restore_point(form: RestorePointForm) -> Any:
        from .point_in_time import parse_when

        try:
            text = form.at.strip()
            at = parse_when(text if text[-1:] in "Zz" or "+" in text[10:] else text + "Z")
        except (ValueError, IndexError) as exc:
            raise Problem(422, "Not a moment", str(exc)) from None
        if form.dry_run:
            try:
                report = _svc().restore_to(at, dry_run=True)
            except BackupError as exc:
                flash(f"Dry run failed: {exc}", "error")
                return redirect(url_for("backup.index"))
            return _index(report)
        if form.confirm.strip() != CONFIRM_WORD:
            raise Problem(
                422,
                "Confirmation missing",
                f"Type the word '{CONFIRM_WORD}' to confirm; nothing was changed.",
            )
        try:
            summary = _svc().restore_to(at)
        except BackupError as exc:
            flash(f"Not restored: {exc}", "error")
        else:
            flash(
                f"Database restored as of {summary['at']}. The state before it is kept in "
                f"{summary['pre_restore']}.",
                "ok",
            )
        return redirect(url_for("backup.index"))

    @bp.post("/backups/<backup_id>/delete")
    @validate(form=DeleteForm, summary="Delete one backup.")
    def delete(backup_id: str, form: DeleteForm) -> Response:
        _find(backup_id)
        _svc().delete(backup_id)
        flash(f"Backup {backup_id} deleted.", "ok")
        return redirect(url_for("backup.index"))  # type: ignore[return-value]

    @bp.post("/backups/upload")
    @api.body_limit(_upload_cap)
    @validate(form=UploadForm, summary="Restore an uploaded archive (type 'restore' to confirm).")
    def upload(form: UploadForm) -> Response:
        from .upload import display_name, staged

        _owner_only("restore an uploaded backup")
        cap = _upload_cap()
        archive = request.files.get("archive")
        if form.confirm.strip() != CONFIRM_WORD:
            raise Problem(
                422,
                "Confirmation missing",
                f"Type the word '{CONFIRM_WORD}' to confirm; nothing was changed.",
            )
        name = display_name(archive.filename if archive is not None else None)
        svc = _svc()
        with staged(svc.dir, archive.stream if archive else io.BytesIO(), name, cap) as path:
            try:
                summary = svc.restore(
                    str(path), form.passphrase or None, force_unsigned=form.force_unsigned
                )
            except BackupError as exc:
                flash(f"Not restored: {for_web(str(exc), uploaded=(str(path), name))}", "error")
                return redirect(url_for("backup.index"))  # type: ignore[return-value]
        forced = bool(summary.get("forced_unsigned"))
        note = " It could not be authenticated; restored as you asked." if forced else ""
        flash(
            f"The uploaded archive {name!r} was restored.{note} The state before it is kept in "
            f"{summary['pre_restore']}.",
            "ok",
        )
        return redirect(url_for("backup.index"))  # type: ignore[return-value]

    return bp
