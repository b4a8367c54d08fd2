"""Span attributes never carry secrets: query values with secret-looking names (OAuth
``code`` and ``state``, tokens) and user info in URLs are replaced before a span ends.

What an instrumentation adds after its hooks ran is cleaned when the span is exported
(:func:`for_export`): captured headers with secret-looking names (the ``OTEL_INSTRUMENTATION_
HTTP_CAPTURE_HEADERS_*`` variables can capture ``Authorization`` and cookies), and the text of
recorded exceptions and of the status (``requests`` puts the failing URL, query included, in
its error messages), from which every configured secret is removed too."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Span, Status

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


#: Captured header attributes (old and stable HTTP conventions).
HEADER_PREFIXES = ("http.request.header.", "http.response.header.")
#: ``name=value`` in free text (an exception message quoting a URL).
_TEXT_PAIR = re.compile(r"(?P<name>[A-Za-z0-9_.\-]+)=(?P<value>[^&\s'\"<>]+)")
_TEXT_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/\s@'\"]+@")


def scrub_text(text: str, secrets: frozenset[str]) -> str:
    """Free text (an exception message or stack trace, a status description) without
    configured secrets, secret-looking ``name=value`` pairs or user info in URLs."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    text = _TEXT_USERINFO.sub(lambda m: m.group("scheme"), text)
    return _TEXT_PAIR.sub(
        lambda m: (
            f"{m.group('name')}={REDACTED}" if _SECRET_NAME.search(m.group("name")) else m.group(0)
        ),
        text,
    )


def for_export(span: ReadableSpan, secrets: frozenset[str]) -> ReadableSpan:
    """``span`` as it may leave the process: the same span when nothing needs cleaning
    (nearly always), else a copy built with the SDK's public ``ReadableSpan``."""
    attributes = dict(span.attributes or {})
    changed = False
    for key, value in attributes.items():
        secret_header = key.startswith(HEADER_PREFIXES) and _SECRET_NAME.search(
            key.rsplit(".", 1)[-1]
        )
        if secret_header and value != (REDACTED,):
            attributes[key] = (REDACTED,)
            changed = True
    events = []
    for event in span.events:
        event_attributes = dict(event.attributes or {})
        for key, value in event_attributes.items():
            if isinstance(value, str):
                clean = scrub_text(value, secrets)
                if clean != value:
                    event_attributes[key] = clean
                    changed = True
        events.append(Event(event.name, event_attributes, event.timestamp))
    status = span.status
    if status.description:
        description = scrub_text(status.description, secrets)
        if description != status.description:
            status = Status(status.status_code, description)
            changed = True
    if not changed:
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
