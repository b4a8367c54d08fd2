"""Issue 19, item 3: ``--data-dir`` for every command, read-only commands that never invent an
empty instance on a wrong data dir, a clear message when the port is taken, ``PORT=... make
run``, and docs that say where ``make run`` put the command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

REPO = Path(__file__).resolve().parents[2]

#: Commands that only read an instance (``with_app(read_only=True)``), with their arguments.
READ_ONLY = [
    ["backup", "list"],
    ["db", "status"],
    ["audit", "export", "--since", "1d"],
    ["tokens", "list"],
    ["library", "status"],
    ["collection", "status"],
    ["collection", "missing"],
    ["deploy", "status"],
    # commands that change existing data: nothing to change in a data dir that is not there
    ["sessions", "list"],
    ["sessions", "revoke", "--all"],
    ["tokens", "revoke", "abc123"],
    ["backup", "delete", "some-id", "--yes"],
    ["backup", "prune", "--yes"],
]


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with a real, migrated database (what `soulspot serve` leaves)."""
    from soulspot.testing import build_app

    data_dir = tmp_path_factory.mktemp("instance") / "data"
    build_app(data_dir, None)
    return data_dir


def test_global_data_dir_reaches_every_command_and_says_where_it_came_from(
    run_cli: Callable[..., Result], instance: Path, tmp_path: Path
) -> None:
    shown = run_cli(["--data-dir", str(instance), "config", "show", "--json"])
    assert shown.exit_code == 0, shown.output
    (row,) = [r for r in json.loads(shown.output) if r["key"] == "kernel.data_dir"]
    assert Path(row["value"]) == instance and row["source"] == "command line"
    listed = run_cli(["--data-dir", str(instance), "backup", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output) == []
    status = run_cli(["--data-dir", str(instance), "db", "status", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["database"] == str(instance.resolve() / "soulspot.db")


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_refuse_a_data_dir_that_does_not_exist(
    run_cli: Callable[..., Result], tmp_path: Path, command: list[str]
) -> None:
    wrong = tmp_path / "typo"
    result = run_cli(["--data-dir", str(wrong), *command])
    assert result.exit_code == 2, result.output
    assert f"no SoulSpot data in {wrong}" in result.output
    assert "has no database" in result.output and "Traceback" not in result.output
    assert not wrong.exists()


@pytest.mark.parametrize("command", [["backup", "list"], ["db", "status"]], ids=" ".join)
def test_read_only_commands_refuse_a_folder_without_a_database(
    run_cli: Callable[..., Result], tmp_path: Path, command: list[str]
) -> None:
    wrong = tmp_path / "elsewhere"
    wrong.mkdir()
    result = run_cli(["--data-dir", str(wrong), *command])
    assert result.exit_code == 2, result.output
    assert f"the data directory {wrong} has no database" in result.output
    assert list(wrong.iterdir()) == []  # no database, no key, nothing


def test_serve_says_the_port_is_taken_without_a_traceback(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(["serve", "--port", str(port)], data_dir=tmp_path / "data")
    assert result.exit_code == 1, result.output
    assert f"cannot listen on http://127.0.0.1:{port}: the port is already in use" in (
        result.output
    )
    assert "PORT=8766 make run" in result.output and "Traceback" not in result.output


# Under `make test` these reach pytest from the outer make; the recipe under test must not
# see them (MAKELEVEL makes make print "Leaving directory", PORT would set the port).
INHERITED_FROM_MAKE = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "PORT")


def test_make_run_takes_port_from_the_environment() -> None:
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_FROM_MAKE}

    def recipe(*args: str) -> str:
        done = subprocess.run(
            ["make", "--no-print-directory", "-n", "run", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip().splitlines()[-1]

    assert recipe("PORT=9001").endswith("soulspot serve --port 9001")
    assert recipe().endswith("soulspot serve")


@pytest.mark.parametrize("page", ["README.md", "docs/getting-started.md"])
def test_docs_say_where_make_run_put_the_command(page: str) -> None:
    text = (REPO / page).read_text()
    assert ".venv/bin/soulspot" in text
    assert "PORT=" in text and "--data-dir" in text
