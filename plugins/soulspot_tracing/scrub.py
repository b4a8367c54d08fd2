"""Span attributes never carry secrets: query values with secret-looking names (OAuth
``code`` and ``state``, tokens) and user info in URLs are replaced before a span ends."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Span

REDACTED = "REDACTED"
_SECRET_NAME = re.compile(
    r"token|secret|password|passphrase|verifier|authorization|cookie|session|api[_-]?key"
    r"|^code$|^state$|credential",
    re.IGNORECASE,
)
#: Attributes that hold URLs or parts of one, in the old and the stable HTTP conventions.
URL_ATTRIBUTES = ("http.url", "url.full")
TARGET_ATTRIBUTES = ("http.target",)
QUERY_ATTRIBUTES = ("url.query",)


def scrub_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, REDACTED if _SECRET_NAME.search(k) else v) for k, v in pairs])


def scrub_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, scrub_query(parts.query), ""))


def scrub_target(target: str) -> str:
    path, _, query = target.partition("?")
    return f"{path}?{scrub_query(query)}" if query else path


#: attribute -> how its value is scrubbed.
SCRUBBERS = (
    *((key, scrub_url) for key in URL_ATTRIBUTES),
    *((key, scrub_target) for key in TARGET_ATTRIBUTES),
    *((key, scrub_query) for key in QUERY_ATTRIBUTES),
)


def scrub_span(span: Span) -> None:
    """Overwrite the URL-bearing attributes an instrumentation set on ``span`` (an SDK span
    exposes them as ``attributes``; a non-recording one has none). Runs twice per request
    span: only the few URL attributes are looked up, and rewritten only when they change."""
    if not isinstance(span, ReadableSpan) or not span.is_recording():
        return
    attributes = span.attributes
    if not attributes:
        return
    for key, scrub in SCRUBBERS:
        value = attributes.get(key)
        if isinstance(value, str):
            clean = scrub(value)
            if clean != value:
                span.set_attribute(key, clean)
