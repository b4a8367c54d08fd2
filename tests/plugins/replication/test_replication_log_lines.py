"""Litestream's lines become our log lines at their own severity. Litestream 0.5's slog
JSON repeats the ``level`` key when a message has a ``level`` attribute (compaction steps):
the first is the severity, the second the attribute; read naively the second won and an
error was logged at INFO, out of sight of alerts on warnings."""

from __future__ import annotations

import logging

import pytest

from soulspot_replication.supervisor import emit

COMPACTION_FAILED = (
    '{"time":"2026-12-04T19:20:01.5Z","level":"ERROR","msg":"compaction failed",'
    '"level":1,"error":"write /replica/ltx/1/0000.ltx: no space left on device"}'
)


def test_a_repeated_level_key_keeps_the_lines_severity(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="soulspot.replication"):
        emit(COMPACTION_FAILED)
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "litestream: compaction failed"
    fields = record.litestream  # type: ignore[attr-defined]
    assert fields["attribute_level"] == 1 and "no space left" in fields["error"]


def test_ordinary_and_plain_lines(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="soulspot.replication"):
        emit('{"time":"2026-12-04T19:20:01Z","level":"WARN","msg":"sync slow","db":"x.db"}')
        emit("not json at all")
        emit("   ")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "litestream: sync slow"),
        (logging.WARNING, "litestream: not json at all"),
    ]
