"""The ``soulspot`` command. Plugins add sub-commands through the ``register_commands`` hook.

Start-up must stay fast (``soulspot --help``): only click and pluggy are imported here; the
app (Flask, pydantic, every plugin's dependencies) is built only by commands that need it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from . import __version__
from .cli_support import CliState, confirm, current_app_from_cli, fail, with_app
from .deploy_cli import deploy_group

if TYPE_CHECKING:  # for type checkers only: `soulspot --help` imports no Flask

    pass

__all__ = ["CliState", "cli", "confirm", "current_app_from_cli", "fail", "main", "with_app"]


class SoulspotGroup(click.Group):
    """A click group that adds the enabled plugins' commands, per invocation.

    Plugin commands are collected into a fresh group for each run (kept in the root
    context's ``meta``), never added to this module-level group: which plugins are enabled
    depends on the config and environment of the run, and one process may run many
    (tests with click's ``CliRunner``).
    """

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        meta = ctx.find_root().meta
        if "soulspot.plugin_commands" not in meta:
            meta["soulspot.plugin_commands"] = self._collect_plugin_commands(ctx)
        return cast(dict[str, click.Command], meta["soulspot.plugin_commands"])

    def _collect_plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        from .plugins import discover, new_manager

        collector = click.Group(self.name, commands=dict(self.commands))
        disabled = _disabled_plugins(ctx.find_root().params.get("config_path"))
        pm = new_manager()
        try:
            eps = discover()
        except Exception:  # a broken install: commands that build the app will say why
            return {}
        for name, ep in sorted(eps.items()):
            if name in disabled:
                continue
            try:
                pm.register(ep.load(), name=name)
            # a broken plugin: every command that builds the app reports it
            except Exception:  # noqa: S112  # nosec B112
                continue
        pm.hook.register_commands(cli=collector)
        return {n: c for n, c in collector.commands.items() if self.commands.get(n) is not c}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugin_commands(ctx)))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            command = self._plugin_commands(ctx).get(cmd_name)
        return command


def _disabled_plugins(config_path: str | None) -> set[str]:
    """Best-effort read of which plugins are disabled, without validating anything."""
    disabled = {n.strip() for n in os.environ.get("SOULSPOT_DISABLE_PLUGINS", "").split(",")}
    path = config_path or os.environ.get("SOULSPOT_CONFIG") or "config/soulspot.toml"
    try:
        text = Path(path).read_text()
        import tomllib  # only when there is a file: `soulspot --help` counts milliseconds

        raw = tomllib.loads(text)
        for name, section in raw.get("plugins", {}).items():
            if isinstance(section, dict) and _is_off(section.get("enabled", True)):
                disabled.add(name)
    except (OSError, ValueError, AttributeError):
        pass
    # SOULSPOT__<NAME>__ENABLED / SOULSPOT__PLUGINS__<NAME>__ENABLED, as config.py reads them
    for var, value in os.environ.items():
        parts = var.lower().split("__")
        if parts[0] == "soulspot" and parts[-1] == "enabled" and _is_off(value):
            if len(parts) == 3 and parts[1] != "kernel":
                disabled.add(parts[1])
            elif len(parts) == 4 and parts[1] == "plugins":
                disabled.add(parts[2])
    return disabled - {""}


def _is_off(value: object) -> bool:
    if isinstance(value, bool):
        return not value
    return str(value).strip().lower() in ("false", "0", "no", "off")


@click.group(cls=SoulspotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="SOULSPOT_CONFIG",
    help="TOML config file [default: config/soulspot.toml, or SOULSPOT_CONFIG].",
)
@click.option(
    "--data-dir",
    "data_dir",
    type=click.Path(file_okay=False),
    help="Data directory, for every command [default: [kernel] data_dir, ./data].",
)
@click.version_option(__version__, "-V", "--version", prog_name="soulspot")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, data_dir: str | None) -> None:
    """SoulSpot: your Spotify account and your music library at home.

    --config and --data-dir go before the command: soulspot --data-dir /srv/soulspot
    backup list. Installed in a clone by `make run`, the command is .venv/bin/soulspot."""
    ctx.obj = CliState(config_path, data_dir)


@cli.command()
@click.option("--host", help="Address to bind [default: [kernel] host, 127.0.0.1].")
@click.option("--port", type=int, help="Port to listen on [default: [kernel] port, 8765].")
@click.option("--threads", type=int, help="Worker threads [default: [kernel] threads].")
@click.pass_obj
def serve(state: CliState, host: str | None, port: int | None, threads: int | None) -> None:
    """Serve the web UI and API (production server, one process, threads)."""
    from .config import ConfigError
    from .server import serve as run_server

    where = ""
    given = {"host": host, "port": port, "threads": threads}
    state.kernel_options.update({key: value for key, value in given.items() if value is not None})
    try:
        app = state.app()
        kernel = app.extensions["soulspot"].settings.kernel
        host = host or kernel.host
        port = kernel.port if port is None else port
        where = f" on http://{host}:{port}"
        run_server(app, host, port, threads or kernel.threads)
    except ConfigError as exc:
        fail(str(exc))
    except OSError as exc:
        import errno

        if exc.errno == errno.EADDRINUSE:
            fail(
                f"cannot listen{where}: the port is already in use (another SoulSpot, or "
                "another program). Stop that one, or choose another port: "
                "soulspot serve --port 8766, PORT=8766 make run, or [kernel] port.",
                code=1,
            )
        fail(f"cannot listen{where}: {exc.strerror or exc}", code=1)


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
@click.pass_obj
def plugins_command(state: CliState, as_json: bool) -> None:
    """List plugins: name, version, distribution, enabled, concerns, hooks."""
    from .config import ConfigError

    try:
        infos = state.configuration()[2]
    except ConfigError as exc:
        fail(str(exc))
    if as_json:
        import json

        click.echo(json.dumps([p.as_dict() for p in infos], indent=2))
        return
    for p in infos:
        mark = "on " if p.enabled else "off"
        click.echo(f"[{mark}] {p.name} {p.version} ({p.distribution})")
        if p.enabled:
            click.echo(f"      provides: {', '.join(p.provides) or '-'}")
            click.echo(f"      requires: {', '.join(p.requires) or '-'}")
            click.echo(f"      hooks:    {', '.join(p.hooks) or '-'}")


@cli.group("plugin")
def plugin_group() -> None:
    """Start a new plugin."""


@plugin_group.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "target",
    type=click.Path(file_okay=False),
    help="Where to write it [default: ./soulspot-NAME].",
)
def plugin_new(name: str, target: str | None) -> None:
    """Write a new plugin distribution NAME whose tests pass as generated: pyproject.toml
    with the entry point, config, a page, a JSON API, a table and its migration, CLI
    commands, a health check, tests, a README and a CI workflow."""
    from .scaffold import ScaffoldError, create

    path = Path(target or f"soulspot-{name.replace('_', '-')}")
    try:
        written = create(name, path)
    except ScaffoldError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}", code=1)
    click.echo(f"wrote {len(written)} files to {path}/")
    click.echo(f"next: pip install -e '{path}[test]' && (cd {path} && pytest)")


@cli.group("config")
def config_group() -> None:
    """Check and show configuration."""


@config_group.command("check")
@click.pass_obj
def config_check(state: CliState) -> None:
    """Validate the config file, env overrides and every plugin's section."""
    from .config import ConfigError

    try:
        settings = state.configuration()[0]
    except ConfigError as exc:
        fail(str(exc))
    click.echo(f"config ok: {settings.path or 'defaults (no file)'}")


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
@click.pass_obj
def config_show(state: CliState, as_json: bool) -> None:
    """Print the effective config (secrets masked) and where each value came from."""
    from .config import ConfigError
    from .config_docs import effective_config

    try:
        settings = state.configuration()[0]
    except ConfigError as exc:
        fail(str(exc))
    import json

    rows = effective_config(settings)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    click.echo(f"# config file: {settings.path or '(none: defaults)'}")
    for row in rows:
        click.echo(f"{row['key']} = {json.dumps(row['value'], default=str)}  # {row['source']}")


@config_group.command("sample")
def config_sample() -> None:
    """Print a commented config file with every key and its default."""
    from .config_docs import sample_toml

    click.echo(sample_toml(), nl=False)


@config_group.command("example")
def config_example() -> None:
    """Print the production config example (config/production.example.toml): copy it to
    /etc/soulspot/soulspot.toml and edit it."""
    from .config_example import production_example

    click.echo(production_example(), nl=False)


@config_group.command("reference")
def config_reference() -> None:
    """Print the Markdown configuration reference (docs/configuration.md)."""
    from .config_docs import reference_markdown

    click.echo(reference_markdown(), nl=False)


cli.add_command(deploy_group)


def main() -> None:
    cli(prog_name="soulspot")
