"""structlog configuration: every log line (ours and stdlib's) goes through one pipeline.

Logging is process-global while tests build many apps in one process, so
:func:`configure_logging` is idempotent: it replaces only the handlers it installed before
and leaves everyone else's (pytest's capture handler) alone.

Pipeline (``merge_contextvars`` first): context vars, level, logger name, request id,
timestamp, ``extra=`` fields of stdlib records, stack/exception rendering, redaction, then
JSON (one object per line) or the console renderer.
"""

from __future__ import annotations

import atexit
import collections
import contextvars
import functools
import json
import logging
import logging.handlers
import os
import queue as queue_module
import re
import sys
import threading
import time
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"
_MARK = "_soulspot_observability"

#: Keys whose values are never logged (headers, tokens, PKCE verifiers, OAuth codes).
_SECRET_KEY = re.compile(
    r"token|secret|password|passphrase|passwd|verifier|authorization|cookie|api[_-]?key"
    r"|^code$|^state$|credential|private[_-]?key",
    re.IGNORECASE,
)
#: Secrets embedded in free text: "Bearer abc", "access_token=abc", "code_verifier: abc".
_SECRET_TEXT = re.compile(
    r"(?P<prefix>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]+"
    r"|(?P<kv>\b(?:access_token|refresh_token|id_token|token|code_verifier|code|client_secret"
    r"|password|secret)\b[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;}]+",
    re.IGNORECASE,
)

_lock = threading.Lock()
_recent: collections.deque[frozenset[str]] = collections.deque(maxlen=8)
_secret_pattern: re.Pattern[str] | None = None

#: stdlib loggers that must stay above DEBUG whatever the level: authlib logs PKCE verifiers,
#: peewee every SQL statement with its parameters, urllib3 full URLs with query strings.
_NEVER_DEBUG = ("authlib", "peewee", "urllib3", "requests_oauthlib")

#: waitress warns "Task queue depth is N" each time a request waits for a free thread:
#: under steady load that is a line every few requests, each formatted on the server's
#: I/O thread. One per minute says the same (with how many were folded into it).
_SUMMARISED = {"waitress.queue": 60.0}


class OncePerInterval(logging.Filter):
    """Lets one record through per ``seconds``; the next one that passes carries
    ``suppressed``: how many were dropped in between."""

    def __init__(self, seconds: float, clock: Any = time.monotonic) -> None:
        super().__init__()
        self.seconds = seconds
        self.clock = clock
        self._next = 0.0
        self._dropped = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        with self._lock:
            if now < self._next:
                self._dropped += 1
                return False
            self._next = now + self.seconds
            dropped, self._dropped = self._dropped, 0
        if dropped:
            record.suppressed = dropped
        return True


def add_secrets(values: Iterable[str]) -> None:
    """Values that must never appear in a log line (configured secrets, the app's key).

    Logging is process-global, so the secrets of the last few apps built in this process
    are kept (one app in production; many in a test session, bounded so the pattern that
    every line is scanned with stays small)."""
    global _secret_pattern
    fresh = frozenset(v for v in values if v and len(v) >= 6)
    with _lock:
        if fresh in _recent:
            _recent.remove(fresh)
        _recent.append(fresh)
        merged = frozenset().union(*_recent)
        ordered = sorted(merged, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None
        _scrub_path.cache_clear()


def _scrub_text(text: str) -> str:
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    if any(m in text for m in ("=", ":", "Bearer", "Basic", "bearer", "basic")):
        text = _SECRET_TEXT.sub(_text_replacement, text)
    return text


@functools.lru_cache(maxsize=2048)
def _scrub_path(path: str) -> str:
    """``_scrub_text`` for request paths, which repeat (cleared when secrets change)."""
    return _scrub_text(path)


_stamp_cache: tuple[int, str] = (0, "")


def _stamp(now: float) -> str:
    """ISO 8601 UTC with microseconds, like structlog's TimeStamper (seconds part cached)."""
    global _stamp_cache
    second = int(now)
    cached = _stamp_cache
    if cached[0] != second:
        cached = _stamp_cache = (
            second,
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)),
        )
    return f"{cached[1]}.{int((now - second) * 1e6):06d}Z"


def _text_replacement(match: re.Match[str]) -> str:
    return (match.group("prefix") or match.group("kv") or "") + REDACTED


def _scrub(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return _scrub_text(value)
    if depth > 4:
        return value
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) else _scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    return value


def redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Drop secret-looking keys and scrub secrets out of every string value."""
    for key in list(event_dict):
        if key == "event":
            value = event_dict[key]
            event_dict[key] = _scrub_text(value) if isinstance(value, str) else value
        elif _SECRET_KEY.search(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


def add_request_id(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """The request id of this request or job run (``soulspot.api.request_id``), or ``-``."""
    if event_dict.get("request_id"):
        return event_dict
    from flask import g, has_app_context

    if has_app_context():
        rid = g.get("request_id")
        if rid is None:
            from soulspot.api import request_id

            rid = request_id()
        event_dict["request_id"] = rid
    else:
        event_dict["request_id"] = _request_id.get() or "-"
    return event_dict


def _drop_color_message(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    # Attributes another formatter (pytest's capture) may have set on the shared LogRecord.
    event_dict.pop("color_message", None)
    event_dict.pop("message", None)
    event_dict.pop("asctime", None)
    return event_dict


class _StdStream(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout``/``sys.stderr`` is *now* (pytest swaps them)."""

    def __init__(self, which: Literal["stdout", "stderr"]) -> None:
        super().__init__()
        self.which = which

    @property
    def stream(self) -> TextIO:
        return sys.stdout if self.which == "stdout" else sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        add_request_id,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _tty(stream: str) -> bool:
    target = sys.stdout if stream == "stdout" else sys.stderr
    try:
        return bool(target.isatty())
    except (AttributeError, ValueError):
        return False


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (then make it 0600): log lines
    carry client addresses and request paths, not for other local users. The handler then
    opens it for appending, which keeps the mode whatever the umask."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def private_rotator(source: str, dest: str) -> None:
    """``RotatingFileHandler.rotator``: rename as the default does, then create the next
    file 0600 before the handler reopens it (it would otherwise follow the umask)."""
    if os.path.exists(source):
        os.replace(source, dest)
    create_private(Path(source))


def configure_logging(
    *,
    level: str = "INFO",
    log_format: Literal["auto", "json", "console"] = "auto",
    stream: Literal["stdout", "stderr"] = "stdout",
    log_file: Path | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    backups: int = 5,
) -> None:
    """(Re)configure structlog and stdlib logging. Safe to call once per app (the access
    listener of an app served before is stopped: its handlers are replaced here)."""
    stop_access_listener()
    shared = _shared_processors()
    tail: list[Processor] = [
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        structlog.processors.StackInfoRenderer(),
    ]
    console = log_format == "console" or (log_format == "auto" and _tty(stream))
    json_renderer = structlog.processors.JSONRenderer(default=str)
    common: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if console:
        stream_formatter = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, *tail],
            processors=[*common, redact, structlog.dev.ConsoleRenderer(colors=True)],
        )
    else:
        stream_formatter = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, *tail],
            processors=[
                *common,
                structlog.processors.format_exc_info,
                redact,
                json_renderer,
            ],
        )
    handlers: list[logging.StreamHandler[Any]] = []
    stream_handler = _StdStream(stream)
    stream_handler.setFormatter(Preformatted(stream_formatter))
    handlers.append(stream_handler)
    if log_file is not None:
        log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        create_private(log_file)
        file_handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
        )
        file_handler.rotator = private_rotator
        file_handler.setFormatter(
            Preformatted(
                structlog.stdlib.ProcessorFormatter(
                    foreign_pre_chain=[*shared, *tail],
                    processors=[
                        *common,
                        structlog.processors.format_exc_info,
                        redact,
                        json_renderer,
                    ],
                )
            )
        )
        handlers.append(file_handler)

    with _lock:
        root = logging.getLogger()
        for old in list(root.handlers):
            if getattr(old, _MARK, False):
                root.removeHandler(old)
                old.close()
        for handler in handlers:
            setattr(handler, _MARK, True)
            root.addHandler(handler)
        global _json_handlers
        _json_handlers = not console
        numeric = logging.getLevelName(level)
        root.setLevel(numeric)
        for name in _NEVER_DEBUG:
            logging.getLogger(name).setLevel(max(numeric, logging.INFO))
        for name, seconds in _SUMMARISED.items():
            logger = logging.getLogger(name)
            if not any(isinstance(f, OncePerInterval) for f in logger.filters):
                logger.addFilter(OncePerInterval(seconds))
        structlog.configure(
            processors=[
                *shared,
                structlog.stdlib.PositionalArgumentsFormatter(),
                structlog.processors.StackInfoRenderer(),
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=True,
        )


# --- access lines ---------------------------------------------------------------------------
#
# One access line per request is the hottest log call there is. When every handler renders
# JSON, the line is built here as a string (about a tenth of a structlog round trip) and
# carried by a plain LogRecord that :class:`Preformatted` passes through unchanged; with the
# console renderer (people at a terminal) it goes through structlog like every other line.
#
# Under ``soulspot serve`` the access logger hands its records to a stdlib ``QueueHandler``
# and one ``QueueListener`` thread writes them to the same handlers: a request thread never
# waits for a ``write()`` while holding a handler's lock (which, under load, made every other
# request thread queue behind it).

_json_handlers = False
_access_logger = logging.getLogger("soulspot.access")
_quote = json.encoder.encode_basestring_ascii
#: Marks a record whose message is the finished line (see :class:`Preformatted`).
LINE_ATTR = "soulspot_line"


class Preformatted(logging.Formatter):
    """A formatter that passes finished access lines through and formats everything else
    with the formatter it wraps."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, LINE_ATTR, False):
            return str(record.msg)
        return self.inner.format(record)


class AccessQueueHandler(logging.handlers.QueueHandler):
    """``QueueHandler`` whose ``prepare`` (the documented override point) keeps the record
    as it is: access records are finished or cheap to format later, on the listener's
    thread, and nothing in them is shared with the request."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def access_line(
    request_id: str,
    method: str,
    path: str,
    status: int,
    duration_ms: float,
    user: str | None,
    remote: str | None,
) -> None:
    """Write one access line (event ``request`` of logger ``soulspot.access``)."""
    logger = _access_logger
    if not logger.isEnabledFor(logging.INFO):
        return
    fields = {
        "request_id": request_id,
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round(duration_ms, 2),
        "user": user,
        "remote": remote,
    }
    if not _json_handlers:
        logger.info("request", extra=fields)
        return
    line = (
        '{"event": "request", "level": "info", "logger": "soulspot.access", '
        f'"timestamp": "{_stamp(time.time())}", '
        f'"request_id": {_quote(request_id)}, "method": {_quote(method)}, '
        f'"path": {_quote(_scrub_path(path))}, "status": {int(status)}, '
        f'"duration_ms": {duration_ms:.2f}, '
        f'"user": {_quote(user) if user is not None else "null"}, '
        f'"remote": {_quote(remote) if remote is not None else "null"}'
        f"{_bound_fields()}}}"
    )
    record = logging.LogRecord("soulspot.access", logging.INFO, __file__, 0, line, None, None)
    record.__dict__.update(fields)
    record.__dict__[LINE_ATTR] = True
    logger.handle(record)


def _bound_fields() -> str:
    """What plugins bound to this request's log context (structlog's contextvars: the tracing
    plugin's ``trace_id`` and ``span_id``), as the access line's last fields: every other line
    carries them through ``merge_contextvars``, so the access line must too."""
    bound = structlog.contextvars.get_contextvars()
    if not bound:
        return ""
    return "".join(
        f", {_quote(str(key))}: {json.dumps(value, default=str)}"
        for key, value in bound.items()
        if key != "request_id"
    )


class WakeOnceQueue:
    """The queue between request threads and the listener: ``put_nowait`` appends and
    wakes the listener only when it sleeps, so a burst of requests costs one wake-up (each
    wake-up makes the listener compete for the GIL with the request threads). The stdlib
    handler and listener take any object with ``put_nowait`` and ``get``."""

    def __init__(self) -> None:
        self.items: collections.deque[Any] = collections.deque()
        self.ready = threading.Event()

    def put_nowait(self, item: Any) -> None:
        self.items.append(item)
        if not self.ready.is_set():
            self.ready.set()

    def get(self, block: bool = True) -> Any:
        while True:
            try:
                return self.items.popleft()
            except IndexError:
                pass
            if not block:
                raise queue_module.Empty
            self.ready.clear()  # before the re-check: a put from now on wakes us again
            if self.items:
                continue
            self.ready.wait()


_listener: logging.handlers.QueueListener | None = None
_queue_handler: AccessQueueHandler | None = None


def start_access_listener() -> None:
    """From now on access lines are written by one listener thread (``soulspot serve``)."""
    global _listener, _queue_handler
    with _lock:
        if _listener is not None:
            return
        targets = [h for h in logging.getLogger().handlers if getattr(h, _MARK, False)]
        queue = WakeOnceQueue()
        _queue_handler = AccessQueueHandler(queue)
        _listener = logging.handlers.QueueListener(
            queue,
            *targets,
            respect_handler_level=True,
        )
        _listener.start()
        _access_logger.addHandler(_queue_handler)
        _access_logger.propagate = False
        atexit.register(stop_access_listener)


def stop_access_listener() -> None:
    """Write what is queued and go back to writing lines on the request's thread."""
    global _listener, _queue_handler
    with _lock:
        listener, handler = _listener, _queue_handler
        _listener = _queue_handler = None
        if handler is not None:
            _access_logger.removeHandler(handler)
            _access_logger.propagate = True
    if listener is not None:
        listener.stop()  # processes every record queued before it returns


#: The request id of the request this thread serves (for lines logged outside the app
#: context, e.g. by a library's worker code); set and reset around every request.
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "soulspot_request_id", default=None
)


def bind_request(request_id: str) -> contextvars.Token[str | None]:
    """Start a request's log context: drop what the thread's last request bound in
    structlog's context (waitress reuses threads), remember the id."""
    structlog.contextvars.clear_contextvars()
    return _request_id.set(request_id)


def unbind_request(token: contextvars.Token[str | None] | None = None) -> None:
    if token is not None:
        try:
            _request_id.reset(token)
            return
        except ValueError:  # set in another context (cannot happen with sync views)
            pass
    _request_id.set(None)


def redact_mapping(data: MutableMapping[str, Any]) -> dict[str, Any]:
    """Redacted copy of ``data`` (for showing headers or details safely)."""
    return dict(redact(None, "", dict(data)))
