"""``soulspot-upgrade WHEEL``: upgrade a side-by-side install, rolling back by itself.

Defaults fit the documented systemd layout (docs/deployment.md): releases under
``/opt/soulspot``, config ``/etc/soulspot/soulspot.toml``, data ``/var/lib/soulspot``, the
service user ``soulspot``, the unit ``soulspot.service``. Every path and command can be given,
so the same tool serves other supervisors (and the tests, in a temporary root).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .commands import Environment, Service
from .flow import Plan, Upgrade

DEFAULT_CONFIG = Path("/etc/soulspot/soulspot.toml")
DEFAULT_ENV_FILE = Path("/etc/soulspot/soulspot.env")


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines as systemd's ``EnvironmentFile=`` reads them (comments, blank
    lines and surrounding quotes allowed)."""
    found: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip().replace("_", "").isalnum():
            raise click.UsageError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key.strip()] = value
    return found


def _owner(path: Path) -> str:
    """The user owning ``path`` when that is not root (root needs no ``runuser``)."""
    import pwd

    try:
        uid = path.stat().st_uid
    except OSError:
        raise click.UsageError(f"--data-dir {path}: no such directory") from None
    return "" if uid == 0 else pwd.getpwuid(uid).pw_name


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True}
)
@click.argument("wheel", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/opt/soulspot"),
    show_default=True,
    help="Holds releases/<version>/, the current link and upgrades/ (the records).",
)
@click.option("--url", default="http://127.0.0.1:8765", show_default=True, help="Where it serves.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The service's config file [default: {DEFAULT_CONFIG} when it exists].",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/var/lib/soulspot"),
    show_default=True,
    help="The service's data directory ([kernel] data_dir).",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The service's EnvironmentFile [default: {DEFAULT_ENV_FILE} when it exists].",
)
@click.option(
    "--run-as",
    help="User to run `soulspot` commands as [default: as root, the owner of the data "
    "directory (soulspot); otherwise the current user].",
)
@click.option("--unit", default="soulspot.service", show_default=True, help="systemd unit.")
@click.option("--restart-command", help="Shell command that restarts the service (not systemd).")
@click.option("--stop-command", help="Shell command that stops it and returns once stopped.")
@click.option("--start-command", help="Shell command that starts it.")
@click.option(
    "--restarts-command", help="Shell command printing how often the supervisor restarted it."
)
@click.option("--ready-timeout", type=float, default=120.0, show_default=True, help="Seconds.")
@click.option(
    "--settle",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds the new version must stay ready before the upgrade counts.",
)
@click.option(
    "--max-restarts",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Restarts by the supervisor that count as a crash loop.",
)
@click.option(
    "--python",
    default=sys.executable,
    show_default="this interpreter",
    help="Interpreter the release venvs are made with.",
)
@click.option(
    "--without-pip",
    is_flag=True,
    help="Make release venvs without pip (faster); this interpreter's pip installs into them.",
)
@click.option(
    "--pip-arg",
    "pip_args",
    multiple=True,
    help="Extra pip install argument, repeatable (e.g. --pip-arg=--no-index "
    "--pip-arg=--find-links=/srv/wheels for an offline install).",
)
def main(
    wheel: Path,
    root: Path,
    url: str,
    config_path: Path | None,
    data_dir: Path,
    env_file: Path | None,
    run_as: str | None,
    unit: str,
    restart_command: str | None,
    stop_command: str | None,
    start_command: str | None,
    restarts_command: str | None,
    ready_timeout: float,
    settle: float,
    max_restarts: int,
    python: str,
    without_pip: bool,
    pip_args: tuple[str, ...],
) -> None:
    """Upgrade to WHEEL (a soulspot-<version>-py3-none-any.whl): install it side by side,
    take a verified backup, record the schema, switch the current link, restart and wait for
    /health/ready. If migrations fail, readiness is not reached or the service crash-loops,
    roll back by itself. Exit 0 upgraded, 1 rolled back, 2 refused (nothing changed),
    3 the rollback failed too."""
    variables: dict[str, str] = {}
    env_file = env_file or (DEFAULT_ENV_FILE if DEFAULT_ENV_FILE.exists() else None)
    if env_file is not None:
        variables.update(read_env_file(env_file))
    config_path = config_path or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    if config_path is not None:
        variables["SOULSPOT_CONFIG"] = str(config_path.resolve())
    variables["SOULSPOT__KERNEL__DATA_DIR"] = str(data_dir.resolve())
    if run_as is None:
        run_as = _owner(data_dir) if os.geteuid() == 0 else ""
    custom = (restart_command, stop_command, start_command)
    tool_env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    if any(custom):
        if not all(custom):
            raise click.UsageError(
                "--restart-command, --stop-command and --start-command go together"
            )
        service = Service(
            restart_command or "",
            stop_command or "",
            start_command or "",
            restarts_command,
            tool_env,
            root,
        )
    else:
        service = Service.systemd(unit, tool_env, root)
    plan = Plan(
        root=root.resolve(),
        wheel=wheel.resolve(),
        url=url.rstrip("/"),
        python=python,
        without_pip=without_pip,
        pip_args=pip_args,
        ready_timeout=ready_timeout,
        settle=settle,
        max_restarts=max_restarts,
    )

    def environment(cwd: Path) -> Environment:
        return Environment(run_as=run_as or None, variables=variables, cwd=cwd)

    upgrade = Upgrade(plan, service, environment, lambda line: click.echo(line, err=True))
    sys.exit(upgrade.run())


def run() -> None:
    """The ``soulspot-upgrade`` entry point: every option also reads ``SOULSPOT_UPGRADE_<NAME>``
    (``--ready-timeout``: ``SOULSPOT_UPGRADE_READY_TIMEOUT``), handy in a drop-in or a CI job."""
    main(auto_envvar_prefix="SOULSPOT_UPGRADE", show_default=True)
