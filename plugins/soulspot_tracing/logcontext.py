"""Log lines written inside a span carry its ``trace_id`` and ``span_id``.

A LogRecord factory (stdlib's documented hook) adds them as record attributes, which the
observability plugin's JSON lines render like any ``extra=`` field. Installed once per
process, only when some app traces: a default install's records stay untouched.
"""

from __future__ import annotations

import logging
from typing import Any

from .routing import log_ids

_installed = False


def install_record_factory() -> None:
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        for key, value in log_ids().items():
            setattr(record, key, value)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
