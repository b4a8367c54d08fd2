"""Issue 19, item 4: a CLI command at a terminal shows its own output and the log's warnings
and errors as coloured console lines, not the INFO lines (migrations, audit) that would bury
it. Run on a real pseudo-terminal, with the real kernel and plugins."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

#: A one-off command of this test only (added to the group in the child process), logging at
#: INFO and WARNING inside a real app built by ``with_app``.
PROGRAM = """
import logging, sys
import click
from soulspot.cli import cli, with_app

@cli.command("noisy")
@with_app
def noisy():
    logging.getLogger("soulspot.test").info("an info line nobody asked for")
    logging.getLogger("soulspot.test").warning("a warning worth seeing")
    click.echo("the command's own output")

cli.main(["--config", sys.argv[1], "noisy"], prog_name="soulspot")
"""


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(  # a list of arguments, no shell
        args, stdin=terminal, stdout=terminal, stderr=terminal, env=env, close_fds=True
    )
    os.close(terminal)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")


def test_a_cli_command_on_a_terminal_shows_warnings_in_colour_and_hides_info(
    tmp_path: Path,
) -> None:
    config = tmp_path / "soulspot.toml"
    config.write_text(f'[kernel]\ndata_dir = "{tmp_path / "data"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    env.pop("NO_COLOR", None)
    code, screen = _on_a_terminal([sys.executable, "-c", PROGRAM, str(config)], env)
    assert code == 0, screen
    assert "the command's own output" in screen
    assert "a warning worth seeing" in screen
    (warning,) = [line for line in screen.splitlines() if "a warning worth seeing" in line]
    assert "\x1b[" in warning and "warn" in warning.lower()  # coloured, level named
    assert not warning.lstrip().startswith("{")  # a line for people, not JSON
    assert "an info line nobody asked for" not in screen
    assert "migration applied" not in screen  # the fresh database's INFO lines
