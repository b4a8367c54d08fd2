"""Every line of an M3U8 export stays one line: a title, an artist or a local file's URI
with a line break in it (``\\r``, ``\\n``, U+2028: the API allows them) ended the line early
for players that read any of them as a line end."""

from __future__ import annotations

import pytest

from soulspot_library.export import one_line


@pytest.mark.parametrize("brk", ["\r", "\n", "\r\n", "\u2028", "\u2029", "\x85", "\t"])
def test_a_line_break_in_a_name_becomes_a_space(brk: str) -> None:
    assert one_line(f"Home{brk}demo") == "Home demo"
    assert one_line("Björk - Hyperballad") == "Björk - Hyperballad"  # the rest untouched
