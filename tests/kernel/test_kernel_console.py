"""Start-up messages (listening address, setup link): plain lines on stderr when it is not a
terminal; set apart (blank line, bold colour, ``>>``) on a terminal; no colour with NO_COLOR."""

from __future__ import annotations

import io
import os
import pty

import pytest

from soulspot.console import announce

MESSAGE = "SoulSpot listening on http://127.0.0.1:8765"


def _on_a_terminal(message: str) -> str:
    controller, terminal = pty.openpty()
    with open(terminal, "w", closefd=True) as stream:
        announce(message, stream=stream)
    chunks = []
    try:  # one read may return part of it: read until the closed terminal says EIO
        while chunk := os.read(controller, 4096):
            chunks.append(chunk)
    except OSError:
        pass
    finally:
        os.close(controller)
    return b"".join(chunks).decode()


def test_not_a_terminal_gets_the_plain_line() -> None:
    stream = io.StringIO()
    announce(MESSAGE + "\n", stream=stream)
    assert stream.getvalue() == MESSAGE + "\n"


def test_a_terminal_gets_it_set_apart_in_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    screen = _on_a_terminal(MESSAGE)
    lines = screen.replace("\r\n", "\n").split("\n")
    assert lines[0] == ""  # a blank line before: apart from the log lines above
    assert lines[1] == f"\x1b[1;36m>> {MESSAGE}\x1b[0m"


def test_no_color_keeps_it_apart_without_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    screen = _on_a_terminal("one\ntwo")
    assert screen.replace("\r\n", "\n") == "\n>> one\n>> two\n\n"
