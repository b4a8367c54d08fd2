"""docs/library.md names only what exists: its commands run (``--help``) with the options it
shows, its settings are the plugin's config keys, its pages and API routes are routes, its
metrics and audit events are the ones the plugin emits."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner
from flask import Flask

from soulspot.cli import cli

DOC = Path(__file__).resolve().parents[3] / "docs" / "library.md"


def _commands(text: str) -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith("soulspot ")]


def test_every_command_in_the_doc_exists_with_its_options() -> None:
    commands = _commands(DOC.read_text())
    assert len(commands) >= 8
    runner = CliRunner()
    for words in commands:
        path = [w for w in words[1:] if not w.startswith("-")][:2]
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (words, result.output)
        for option in (w for w in words if w.startswith("--")):
            assert option in result.output, (words, option)


def test_settings_routes_metrics_and_events_are_real(app: Flask) -> None:
    from soulspot_library.config import LibraryConfig

    text = DOC.read_text()
    for key in (
        "sync_schedule",
        "full_sync_days",
        "max_retry_wait_seconds",
        "server_error_retries",
        "retry_backoff_seconds",
    ):
        assert key in LibraryConfig.model_fields and f"`{key}`" in text
    rules = {re.sub(r"<[^>]+>", "<id>", r.rule) for r in app.url_map.iter_rules()}
    for path in re.findall(r"`(/library[^`?]*)", text):
        assert path.replace("<id>", "<id>") in rules, path
    for name in (
        "status",
        "playlists",
        "playlists/<id>",
        "playlists/<id>/diff",
        "liked",
        "albums",
        "artists",
        "changes",
    ):
        assert f"/api/library/{name}" in rules, name
    from soulspot_library.metrics import LibraryMetrics

    names = {m.name for c in LibraryMetrics().collectors() for m in c.describe()}
    for metric in re.findall(r"`(soulspot_library_[a-z_]+)", text):
        base = re.sub(r"_(total|count|sum|bucket)$", "", metric)
        assert base in names, metric
    source = (Path(__file__).resolve().parents[3] / "plugins" / "soulspot_library").rglob("*.py")
    emitted = "".join(p.read_text() for p in source)
    for event in re.findall(r"`(library\.[a-z_]+)`", text):
        assert f'"{event}"' in emitted, event
