"""``Cache-Control: no-store`` on every response to a signed-in request (a session cookie or
an API token): pages and API answers hold the owner's library, sessions and audit trail, and
must not stay in a shared cache, a proxy or the browser's back/forward history on a shared
computer. Static files (the same for everybody) and liveness probes keep their own caching;
so do answers given while SoulSpot is in maintenance (no session is looked up then: the
database may be being restored)."""

from __future__ import annotations

import logging

from flask import Response, request

from soulspot.api import current_user, is_probe, maintenance_reason, request_view

log = logging.getLogger("soulspot.security")


def _skipped() -> bool:
    endpoint = request.endpoint
    if endpoint is None or endpoint == "static" or endpoint.endswith(".static"):
        return True
    if is_probe(request_view()):
        return True
    return maintenance_reason() is not None


def no_store_when_signed_in(response: Response) -> Response:
    try:
        if not _skipped() and current_user() is not None:
            response.headers["Cache-Control"] = "no-store"
    except Exception:  # a header must never turn an answer into an error
        log.exception("could not decide Cache-Control")
    return response

