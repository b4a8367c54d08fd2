"""Every ``soulspot`` command on a fresh data dir (issue 18, item 6): an answer or a clear
refusal, never a logged traceback or an ERROR line — ``db status`` used to log one from the
security plugin (``no such table: settings``) because it reads the schema without migrating."""

from __future__ import annotations

import click
import pytest

from soulspot.cli import cli

#: Arguments for commands that need some; every other leaf command runs without any.
ARGS = {
    "backup delete": ["20260101T000000Z-0000"],
    "backup restore": ["20260101T000000Z-0000"],
    "backup verify": ["20260101T000000Z-0000"],
    "db downgrade": ["sqlite", "0"],
}
#: Commands that do not return on their own.
NOT_HERE = {"serve"}


def leaf_commands() -> list[str]:
    found: list[str] = []
    with click.Context(cli, info_name="soulspot") as ctx:
        ctx.obj = None

        def walk(group: click.Group, ctx: click.Context, prefix: str) -> None:
            for name in group.list_commands(ctx):
                command = group.get_command(ctx, name)
                path = f"{prefix} {name}".strip()
                if isinstance(command, click.Group):
                    walk(command, click.Context(command, parent=ctx, info_name=name), path)
                elif path not in NOT_HERE:
                    found.append(path)

        walk(cli, ctx, "")
    return found


COMMANDS = leaf_commands()


def test_the_walk_finds_the_commands():
    assert {"db status", "db upgrade", "plugins", "config check", "backup list"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_no_traceback_on_a_fresh_data_dir(run_cli, tmp_path, caplog, command):
    caplog.set_level("DEBUG")
    result = run_cli([*command.split(), *ARGS.get(command, [])], data_dir=tmp_path / "fresh")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        command,
        result.exception,
    )
    output = result.output + result.stderr
    assert "Traceback" not in output, output
    bad = [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL") or r.exc_info]
    assert not bad, [(r.name, r.getMessage()) for r in bad]
