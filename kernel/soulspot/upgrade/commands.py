"""Running a release's ``soulspot`` command, and the service manager's commands.

A release's own command does everything to the data (backups, schema, restore), as the
service user and with the service's configuration; the orchestrator only reads their
documented outputs (``db status --json``, the id ``backup create`` prints).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess  # nosec B404 - the upgrade runs each release's own soulspot command
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .layout import Release

#: How long one ``soulspot`` command may run (a backup of a large library takes a while).
COMMAND_TIMEOUT = 1800.0


class StepFailed(Exception):
    """A command of the upgrade failed; the message says which and what it printed."""


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 4) -> str:
        """The last lines the command printed, without its JSON log lines when it printed
        anything else (the message for people is what says why)."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        said = [line for line in text if not line.startswith('{"')] or text
        return " | ".join(said[-lines:])


@dataclass(frozen=True)
class Environment:
    """How the service runs its commands: user, config, data directory, extra variables."""

    run_as: str | None
    variables: Mapping[str, str]
    cwd: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
        env.update(self.variables)
        return env

    def prefix(self) -> list[str]:
        return ["runuser", "-u", self.run_as, "--"] if self.run_as else []


def run(argv: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float) -> Result:
    try:
        done = subprocess.run(  # noqa: S603  # nosec B603 - argv built here, no shell
            list(argv),
            env=dict(env),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Result(124, "", f"{argv[0]}: no answer within {timeout:.0f}s")
    except OSError as exc:
        return Result(127, "", f"{argv[0]}: {exc.strerror or exc}")
    return Result(done.returncode, done.stdout, done.stderr)


class Soulspot:
    """``<release>/bin/soulspot ...`` as the service would run it."""

    def __init__(self, release: Release, environment: Environment) -> None:
        self.release = release
        self.environment = environment

    def __call__(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> Result:
        argv = [*self.environment.prefix(), str(self.release.soulspot), *args]
        return run(argv, self.environment.env(), self.environment.cwd, timeout)

    def must(self, *args: str) -> Result:
        result = self(*args)
        if not result.ok:
            raise StepFailed(
                f"{self.release.version}: `soulspot {' '.join(args)}` failed "
                f"(exit {result.returncode}): {result.tail()}"
            )
        return result

    def schema(self) -> dict[str, int]:
        """``{plugin: applied version}`` from ``soulspot db status --json``."""
        return {p["plugin"]: int(p["applied"]) for p in self.db_status()["plugins"]}

    def db_status(self) -> dict[str, Any]:
        out = self.must("db", "status", "--json").stdout
        try:
            return dict(json.loads(out))
        except ValueError:
            raise StepFailed(
                f"{self.release.version}: `soulspot db status --json` printed no JSON"
            ) from None


def install(
    release: Release,
    wheel: Path,
    python: str,
    without_pip: bool,
    pip_args: Sequence[str],
    env: Mapping[str, str],
) -> None:
    """A fresh venv at ``release.path`` with ``wheel`` installed into it."""
    venv = [python, "-m", "venv", *(["--without-pip"] if without_pip else []), str(release.path)]
    made = run(venv, env, release.path.parent, 600)
    if not made.ok:
        raise StepFailed(f"creating the venv {release.path} failed: {made.tail()}")
    # The release's own pip when the venv has one; else this interpreter's pip aimed at it.
    if (release.path / "bin" / "pip").exists():
        pip = [str(release.python), "-m", "pip"]
    else:
        pip = [sys.executable, "-m", "pip", "--python", str(release.python)]
    done = run([*pip, "install", *pip_args, str(wheel)], env, release.path.parent, 1800)
    if not done.ok:
        raise StepFailed(f"installing {wheel.name} into {release.path} failed: {done.tail()}")


class Service:
    """The service manager, through shell commands (systemctl by default)."""

    def __init__(
        self,
        restart: str,
        stop: str,
        start: str,
        restarts: str | None,
        env: Mapping[str, str],
        cwd: Path,
    ) -> None:
        self.commands = {"restart": restart, "stop": stop, "start": start}
        self.restarts_command = restarts
        self.env = env
        self.cwd = cwd

    @classmethod
    def systemd(cls, unit: str, env: Mapping[str, str], cwd: Path) -> Service:
        name = shlex.quote(unit)
        return cls(
            restart=f"systemctl restart {name}",
            stop=f"systemctl stop {name}",
            # A unit that crash-looped hit its start limit: clear that first.
            start=f"systemctl reset-failed {name}; systemctl start {name}",
            restarts=f"systemctl show -p NRestarts --value {name}",
            env=env,
            cwd=cwd,
        )

    def do(self, action: str, log: Callable[[str], None]) -> None:
        result = run(["/bin/sh", "-c", self.commands[action]], self.env, self.cwd, 120)
        if not result.ok:
            command = self.commands[action]
            raise StepFailed(f"service {action} (`{command}`) failed: {result.tail()}")
        log(f"service {action}: ok")

    def restarts(self) -> int | None:
        """How often the service manager restarted the service (None: it cannot say)."""
        if not self.restarts_command:
            return None
        result = run(["/bin/sh", "-c", self.restarts_command], self.env, self.cwd, 30)
        try:
            return int(result.stdout.strip()) if result.ok else None
        except ValueError:
            return None
