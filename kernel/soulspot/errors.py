"""Errors as the client should see them: RFC 9457 problem+json under ``/api/``, HTML pages
elsewhere, both carrying the request id. No stack trace ever reaches a client; the kernel
logs an unhandled exception once (observability turns that into one JSON line)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from flask import (
    Flask,
    Response,
    current_app,
    g,
    got_request_exception,
    jsonify,
    render_template,
    request,
)
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException

from .context import request_id

log = logging.getLogger("soulspot.errors")

PROBLEM_TYPE_BASE = "https://soulspot.invalid/problems/"


class Problem(Exception):
    """Raise to answer with an error: ``raise Problem(409, "Backup running", "...")``."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        type_: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_ or "about:blank"
        self.headers = dict(headers or {})
        self.extra = extra


class ValidationFailed(Problem):
    """Input that does not fit its pydantic model: 422 with one entry per field error."""

    def __init__(self, errors: Sequence[Mapping[str, Any]], where: str = "request") -> None:
        super().__init__(
            422,
            "Invalid input",
            f"The {where} has {len(errors)} invalid field(s).",
            type_=PROBLEM_TYPE_BASE + "validation",
            errors=list(errors),
        )


def wants_json() -> bool:
    """API paths, and clients that prefer JSON over HTML, get problem+json."""
    if request.path.startswith("/api/"):
        return True
    accept = request.accept_mimetypes
    return bool(accept) and accept.best_match(
        ["text/html", "application/json", "application/problem+json"]
    ) in ("application/json", "application/problem+json")


def problem_response(
    status: int,
    title: str,
    detail: str = "",
    *,
    type_: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Render an error for the current request in the form the client wants."""
    rid = request_id()
    # A request for an untrusted Host has no URL adapter, so no page can be rendered.
    if wants_json() or request_ctx.url_adapter is None:
        body = {
            "type": type_,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": request.path,
            "request_id": rid,
            **extra,
        }
        resp = jsonify(body)
        resp.mimetype = "application/problem+json"
    else:
        html = render_template(
            "soulspot/error.html",
            status=status,
            title=title,
            detail=detail,
            request_id=rid,
            extra=extra,
        )
        resp = Response(html, mimetype="text/html")
    resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def install(app: Flask) -> None:
    app.register_error_handler(Problem, _on_problem)
    app.register_error_handler(Exception, _on_exception)


def _on_problem(exc: Problem) -> Response:
    return problem_response(
        exc.status, exc.title, exc.detail, type_=exc.type, headers=exc.headers, **exc.extra
    )


def _on_exception(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        headers = dict(exc.get_headers())
        headers.pop("Content-Type", None)
        return problem_response(status, exc.name, exc.description or "", headers=headers)
    if is_disk_full(exc):
        # not a bug of ours: the operator must free space; nothing was written
        log.error("disk full", extra={"error": str(exc)[:200], "request_id": request_id()})
        return problem_response(
            503,
            "Disk full",
            "The disk holding SoulSpot's data is full, so nothing was saved. Free some space "
            "and try again.",
            headers={"Retry-After": "60"},
        )
    user = g.get("soulspot_user")  # only what is known: no auth call while failing
    log.error(
        "unhandled exception",
        exc_info=exc,
        extra={
            "route": request.url_rule.rule if request.url_rule else request.path,
            "method": request.method,
            "user": user.id if user else None,
            "request_id": request_id(),
        },
    )
    # Flask sends this signal itself only for exceptions no handler caught; ours catches
    # every one, so send it here (the metrics plugin counts exceptions with it).
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    got_request_exception.send(app, _async_wrapper=app.ensure_sync, exception=exc)
    return problem_response(
        500,
        "Internal Server Error",
        "Something went wrong on our side. The request id below finds it in the log.",
    )


def is_disk_full(exc: BaseException | None) -> bool:
    """``exc`` or its cause is a full disk: ENOSPC/EDQUOT, or SQLite's SQLITE_FULL."""
    import errno

    for _ in range(10):
        if exc is None:
            return False
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "database or disk is full" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
