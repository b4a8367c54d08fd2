"""Issue 19, item 4: the log as `jq`, journald and `docker compose logs` read it. A real
``soulspot serve`` with stdout not a terminal: every stdout line is one JSON object, the
start-up messages (listening address, setup link) are on stderr; and every `jq` recipe in
docs/ runs, as written, on that real output (a recipe that cannot parse it fails here)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

REPO = Path(__file__).resolve().parents[3]
SOULSPOT = Path(sys.executable).with_name("soulspot")
#: The request id the docs' recipes select (sent by this test, so they find something).
DOC_REQUEST_ID = "9c0f4c3e5d7b4a7e8f1a2b3c4d5e6f70"
CODE = re.compile(r"```[^\n]*\n(.*?)```|`([^`\n]+)`", re.S)


@dataclass
class Served:
    root: Path  # holds data/ (so `data/logs/soulspot.log` resolves as in the docs)
    stdout: Path
    stderr: Path
    health: Path
    port: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    port = _free_port()
    config = root / "soulspot.toml"
    config.write_text(
        f'[kernel]\ndata_dir = "{root / "data"}"\nport = {port}\n'
        "[plugins.observability]\nlog_file = true\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    out, err = root / "stdout.log", root / "stderr.log"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [str(SOULSPOT), "--config", str(config), "serve"],
            stdout=stdout,
            stderr=stderr,
            env=env,
            cwd=root,
        )
    try:
        deadline = time.monotonic() + 60
        while "listening on" not in err.read_text():
            assert proc.poll() is None, err.read_text()
            assert time.monotonic() < deadline, err.read_text()
            time.sleep(0.05)  # polling a file with a deadline, not waiting for a race
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/health/live", timeout=10) as resp:
            assert resp.status == 200  # loopback
        traced = urllib.request.Request(base + "/health", headers={"X-Request-ID": DOC_REQUEST_ID})
        health = root / "health.json"
        with urllib.request.urlopen(traced, timeout=10) as resp:
            health.write_bytes(resp.read())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    yield Served(root=root, stdout=out, stderr=err, health=health, port=port)


def test_every_stdout_line_is_one_json_object_and_start_up_lines_are_on_stderr(
    served: Served,
) -> None:
    lines = served.stdout.read_text().splitlines()
    assert lines, "serve wrote nothing to stdout"
    events = [json.loads(line)["event"] for line in lines]  # each line parses on its own
    assert "serving" in events and "request" in events
    startup = served.stderr.read_text()
    assert f"SoulSpot listening on http://127.0.0.1:{served.port}" in startup
    assert re.search(r"/auth/setup\?token=[\w-]+", startup), startup
    text = served.stdout.read_text()
    assert "listening on" not in text and "setup?token" not in text


def _recipes() -> list[tuple[str, str]]:
    """``(page, command)`` for every code span or code-block line in docs/ that runs jq."""
    found: list[tuple[str, str]] = []
    for page in sorted((REPO / "docs").rglob("*.md")):
        for match in CODE.finditer(page.read_text()):
            block = match.group(1) if match.group(1) is not None else match.group(2)
            for line in block.splitlines():
                line = re.sub(r"\s{2,}#.*$", "", line.replace("\\|", "|")).strip()
                if re.search(r"(^|\|\s*)jq\b", line):
                    found.append((str(page.relative_to(REPO)), line))
    return found


RECIPES = _recipes()


def test_the_docs_have_jq_recipes() -> None:
    pages = {page for page, _ in RECIPES}
    assert {"docs/observability.md", "docs/operations/runbook.md"} <= pages, RECIPES
    assert len(RECIPES) >= 10, RECIPES


def _json_values(text: str) -> list[object]:
    decoder = json.JSONDecoder()
    values, at = [], 0
    while (at := len(text) - len(text[at:].lstrip())) < len(text):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
    return values


@pytest.mark.parametrize(("page", "recipe"), RECIPES, ids=[r for _, r in RECIPES])
def test_every_jq_recipe_in_the_docs_runs_on_real_output(
    served: Served, run_cli: Callable[..., Result], page: str, recipe: str
) -> None:
    producer, _, jq_part = (
        recipe.rpartition("|") if not recipe.startswith("jq") else ("", "", recipe)
    )
    producer = producer.strip()
    argv = shlex.split(jq_part.strip())
    assert argv[0] == "jq", recipe
    if not producer or producer.startswith(("journalctl", "docker compose logs")):
        feed = served.stdout.read_text()  # what the service manager collects from stdout
    elif producer.startswith("curl") and "/health" in producer:
        feed = served.health.read_text()
    elif producer.startswith("soulspot audit export"):
        exported = run_cli(shlex.split(producer)[1:], data_dir=served.root / "data")
        assert exported.exit_code == 0, exported.output
        feed = exported.stdout
    else:
        pytest.fail(f"{page}: no real output known for `{producer}` (add it to this test)")
    done = subprocess.run(  # a list of arguments, no shell
        argv, input=feed, cwd=served.root, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, f"{page}: `{recipe}`: {done.stderr}"
    values = _json_values(done.stdout)
    if DOC_REQUEST_ID in recipe or argv[-1] == ".":
        assert values, f"{page}: `{recipe}` found nothing"
    if DOC_REQUEST_ID in recipe:
        assert all(v["request_id"] == DOC_REQUEST_ID for v in values)  # type: ignore[index]
