"""The security plugin's routes: the Audit page, ``/api/audit``, the CSRF token for scripts,
and the CSP violation report endpoint."""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from soulspot.api import config_for, csrf_exempt, has_storage, public, storage
from soulspot.errors import Problem
from soulspot.validation import NoParams, validate

from .auditlog import as_dict
from .guard import csrf_token

log = logging.getLogger("soulspot.security")

bp = Blueprint("security", __name__, template_folder="templates")

EVENT_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class AuditFilter(BaseModel):
    """Filters shared by the Audit page and ``/api/audit``."""

    model_config = ConfigDict(extra="forbid")

    event: str | None = Field(
        None, max_length=64, pattern=EVENT_PATTERN, description="Exact event name."
    )
    since: dt.date | None = Field(None, description="First day (UTC), inclusive.")
    until: dt.date | None = Field(None, description="Last day (UTC), inclusive.")
    page: int = Field(1, ge=1, le=100_000, description="Page number, from 1.")

    def bounds(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        since = (
            dt.datetime.combine(self.since, dt.time.min, dt.UTC) if self.since is not None else None
        )
        until = (
            dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time.min, dt.UTC)
            if self.until is not None and self.until < dt.date.max
            else None
        )
        return since, until


class AuditPageFilter(AuditFilter):
    """The Audit page's filter form submits empty fields for "any": those mean no filter."""

    @field_validator("event", "since", "until", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)


class AuditEventOut(BaseModel):
    time: dt.datetime
    event: str
    outcome: str
    actor: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, Any]


class AuditPageOut(BaseModel):
    """One page of audit events, newest first."""

    total: int = Field(description="Events matching the filter.")
    page: int
    pages: int
    events: list[AuditEventOut]


class CsrfTokenOut(BaseModel):
    """The CSRF token of this session (send it as ``X-CSRF-Token``)."""

    csrf_token: str
    header: str = "X-CSRF-Token"


class CspReport(BaseModel):
    """A browser's CSP violation report (``report-uri`` format); unknown keys are kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    document_uri: str | None = Field(None, alias="document-uri", max_length=2048)
    violated_directive: str | None = Field(None, alias="violated-directive", max_length=256)
    effective_directive: str | None = Field(None, alias="effective-directive", max_length=256)
    blocked_uri: str | None = Field(None, alias="blocked-uri", max_length=2048)
    source_file: str | None = Field(None, alias="source-file", max_length=2048)
    line_number: int | None = Field(None, alias="line-number")
    script_sample: str | None = Field(None, alias="script-sample", max_length=256)
    disposition: str | None = Field(None, max_length=32)


class CspEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    csp_report: CspReport = Field(alias="csp-report")


def _page(query: AuditFilter) -> dict[str, Any]:
    size = config_for("security").audit_page_size
    since, until = query.bounds()
    audit = storage().audit
    total = audit.count(event=query.event, since=since, until=until)
    pages = max(1, math.ceil(total / size))
    events = audit.query(
        event=query.event,
        since=since,
        until=until,
        limit=size,
        offset=(query.page - 1) * size,
    )
    return {"total": total, "page": query.page, "pages": pages, "events": events}


@bp.get("/audit")
@validate(query=AuditPageFilter)
def audit_page(query: AuditPageFilter) -> str:
    if not has_storage():
        return render_template("security/audit.html", enabled=False, query=query)
    data = _page(query)
    params: dict[str, Any] = {
        k: str(v)
        for k, v in {"event": query.event, "since": query.since, "until": query.until}.items()
        if v
    }

    def page_url(page: int) -> str:
        return url_for("security.audit_page", page=page, **params)

    return render_template(
        "security/audit.html",
        enabled=True,
        query=query,
        names=storage().audit.event_names(),
        page_url=page_url,
        **data,
    )


@bp.get("/api/audit")
@validate(
    query=AuditFilter,
    response=AuditPageOut,
    summary="Audit events, newest first",
    errors={409: "No storage plugin is enabled."},
)
def api_audit(query: AuditFilter) -> Response:
    if not has_storage():
        raise Problem(409, "No audit log", "No storage plugin is enabled.")
    data = _page(query)
    data["events"] = [as_dict(e) for e in data["events"]]
    return jsonify(AuditPageOut.model_validate(data).model_dump(mode="json"))


@bp.get("/api/security/csrf-token")
@validate(query=NoParams, response=CsrfTokenOut, summary="This session's CSRF token")
def api_csrf_token(query: NoParams) -> Response:
    resp = jsonify(CsrfTokenOut(csrf_token=csrf_token()).model_dump())
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/security/csp-report")
@public
@csrf_exempt
def csp_report() -> Response:
    """Browsers POST ``application/csp-report`` (not JSON by MIME type), so the body is parsed
    here and validated with the same pydantic model machinery as ``@validate``."""
    data = request.get_json(force=True, silent=True)
    try:
        report = CspEnvelope.model_validate(data).csp_report
    except ValidationError as exc:
        raise Problem(
            422,
            "Invalid input",
            "Expected a CSP violation report ({'csp-report': {...}}).",
            errors=[
                {"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors()
            ],
        ) from None
    log.warning(
        "csp violation",
        extra={
            "document_uri": report.document_uri,
            "violated_directive": report.violated_directive or report.effective_directive,
            "blocked_uri": report.blocked_uri,
            "source_file": report.source_file,
            "line_number": report.line_number,
        },
    )
    return Response(status=204)
