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
    """(Re)configure structlog and stdlib logging. Safe to call once per app."""
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
    stream_handler.setFormatter(stream_formatter)
    handlers.append(stream_handler)
    if log_file is not None:
        log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        create_private(log_file)
        file_handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
        )
        file_handler.rotator = private_rotator
        file_handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=[*shared, *tail],
                processors=[*common, structlog.processors.format_exc_info, redact, json_renderer],
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
        global _fast_handlers
        _fast_handlers = () if console else tuple(handlers)
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


# --- the access line's fast path -----------------------------------------------------------
#
# One access line per request is the hottest log call there is. When every handler renders
# JSON, it skips the LogRecord + ProcessorFormatter round trip (about 10x the cost) and writes
# the same JSON object straight to the same handlers, under their locks. With the console
# renderer (people at a terminal) it goes through logging like every other line.

_fast_handlers: tuple[logging.StreamHandler[Any], ...] = ()
_access_logger = logging.getLogger("soulspot.access")
_quote = json.encoder.encode_basestring_ascii


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
    if not _access_logger.isEnabledFor(logging.INFO):
        return
    handlers = _fast_handlers
    if not handlers or _access_logger.handlers or not _access_logger.propagate:
        _access_logger.info(
            "request",
            extra={
                "request_id": request_id,
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(duration_ms, 2),
                "user": user,
                "remote": remote,
            },
        )
        return
    line = (
        '{"event": "request", "level": "info", "logger": "soulspot.access", '
        f'"timestamp": "{_stamp(time.time())}", '
        f'"request_id": {_quote(request_id)}, "method": {_quote(method)}, '
        f'"path": {_quote(_scrub_path(path))}, "status": {int(status)}, '
        f'"duration_ms": {duration_ms:.2f}, '
        f'"user": {_quote(user) if user is not None else "null"}, '
        f'"remote": {_quote(remote) if remote is not None else "null"}'
        f"{_bound_fields()}}}\n"
    )
    writer = _writer
    if writer is not None and writer.put(line):
        return
    _write_lines(handlers, line)


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


def _write_lines(handlers: Iterable[logging.StreamHandler[Any]], text: str) -> None:
    """Write whole lines to each handler's stream under the handler's lock."""
    for handler in handlers:
        with handler.lock or _null_lock:
            try:
                if isinstance(handler, logging.handlers.RotatingFileHandler):
                    if handler.stream is None:  # opened lazily (delay=True)
                        handler.stream = handler._open()
                    if handler.maxBytes and handler.stream.tell() + len(text) >= handler.maxBytes:
                        handler.doRollover()
                        if handler.stream is None:
                            handler.stream = handler._open()
                stream = handler.stream
                stream.write(text)
                stream.flush()
            except Exception:  # like logging: a broken stream must not break requests
                handler.handleError(_ACCESS_RECORD)


#: What ``handleError`` reports when an access line cannot be written.
_ACCESS_RECORD = logging.LogRecord(
    "soulspot.access", logging.INFO, __file__, 0, "request", (), None
)


class AccessLineWriter:
    """Writes the access lines of ``soulspot serve`` on its own thread.

    Writing a line is a system call, which makes the request thread give up the GIL while
    it holds the log handler's lock; under load every other request thread then queues on
    that lock (a lock convoy: about a fifth of the server's time in ``bench/overhead.py``).
    Here a request only appends its line to a queue; this thread writes whatever has
    accumulated with one ``write`` and ``flush`` per batch, in order, under the same
    handler locks as every other line. Nothing is dropped: past ``max_pending`` queued
    lines (a stalled reader of stdout), requests write their own line again, and
    :meth:`close` (at shutdown) writes what is left.
    """

    def __init__(self, max_pending: int = 10_000, batch: int = 512) -> None:
        self._lines: collections.deque[str] = collections.deque()
        self._wake = threading.Event()
        self._closed = False
        self._lock = threading.Lock()  # a line is queued before close() or not at all
        self._max_pending = max_pending
        self._batch = batch
        self._thread = threading.Thread(target=self._run, name="soulspot-access-log", daemon=True)
        self._thread.start()

    def put(self, line: str) -> bool:
        """Queue ``line``; ``False`` when the caller must write it itself."""
        with self._lock:  # no I/O inside: taking it never waits for long
            if self._closed or len(self._lines) >= self._max_pending:
                return False
            self._lines.append(line)
        if not self._wake.is_set():
            self._wake.set()
        return True

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()  # before draining: a line queued from now on wakes us again
            self.drain()
            if self._closed:
                self.drain()
                return

    def drain(self) -> None:
        """Write every queued line (the writer thread, or :meth:`close`)."""
        lines = self._lines
        while lines:
            batch: list[str] = []
            try:
                while len(batch) < self._batch:
                    batch.append(lines.popleft())
            except IndexError:
                pass
            _write_lines(_fast_handlers, "".join(batch))

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking lines, write the queued ones, end the thread."""
        with self._lock:
            self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        self.drain()  # whatever a request queued while the thread was finishing


_writer: AccessLineWriter | None = None


def start_access_writer() -> AccessLineWriter:
    """Access lines go through a writer thread from now on (``soulspot serve``)."""
    global _writer
    with _lock:
        if _writer is None:
            _writer = AccessLineWriter()
            atexit.register(stop_access_writer)
        return _writer


def stop_access_writer() -> None:
    """Write what is queued and go back to writing lines on the request's thread."""
    global _writer
    with _lock:
        writer, _writer = _writer, None
    if writer is not None:
        writer.close()


_null_lock = threading.RLock()


#: The request id of the request this thread serves (for lines logged outside the app
#: context, e.g. by a library's worker code); set and reset around every request.
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "soulspot_request_id", default=None
)


def bind_request(request_id: str) -> contextvars.Token[str | None]:
    """Start a request's log context: drop what the thread's last request bound in
    structlog's context (waitress reuses threads), remember the id."""
    if getattr(structlog.contextvars, "_CONTEXT_VARS", True):  # anything ever bound?
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
