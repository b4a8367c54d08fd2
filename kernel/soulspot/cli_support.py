"""What ``soulspot`` sub-commands share (re-exported by :mod:`soulspot.cli`, where plugins
import them): the app of the run, ``with_app``, ``confirm`` and ``fail``. Its own module so
that command modules of the kernel (``soulspot deploy``) use it without importing the
command group that adds them.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast, overload

import click

if TYPE_CHECKING:  # for type checkers only: `soulspot --help` imports no Flask
    import pluggy
    from flask import Flask

    from .config import Settings
    from .plugins import PluginInfo

F = TypeVar("F", bound=Callable[..., Any])


class CliState:
    """What ``soulspot`` sub-commands share: the config path, the ``--data-dir`` given on the
    command line and, once built, the app."""

    def __init__(self, config_path: str | None, data_dir: str | None = None) -> None:
        self.config_path = config_path
        self.data_dir = data_dir
        #: ``[kernel]`` values a command's own options set (``serve --host/--port/--threads``),
        #: before the app is built: config show and the Settings page then say "command line".
        self.kernel_options: dict[str, Any] = {}
        self._app: Flask | None = None

    @property
    def command_line(self) -> dict[str, Any]:
        """Config values given on the command line (``--data-dir``, ``serve --port`` ...)."""
        kernel = dict(self.kernel_options)
        if self.data_dir:
            kernel["data_dir"] = self.data_dir
        return {"kernel": kernel} if kernel else {}

    def configuration(self) -> tuple[Settings, pluggy.PluginManager, list[PluginInfo]]:
        """``(settings, plugin manager, plugin infos)`` without building the app."""
        from .app import load_configuration

        return load_configuration(config_path=self.config_path, command_line=self.command_line)

    def app(self) -> Flask:
        if self._app is None:
            from .app import create_app

            self._app = create_app(config_path=self.config_path, command_line=self.command_line)
        return self._app


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` to stderr and exit with ``code`` (no traceback)."""
    click.echo(message, err=True)
    sys.exit(code)


@overload
def with_app(command: F, *, read_only: bool = False) -> F: ...


@overload
def with_app(command: None = None, *, read_only: bool = False) -> Callable[[F], F]: ...


def with_app(command: F | None = None, *, read_only: bool = False) -> F | Callable[[F], F]:
    """Build the app (no scheduler) and run the command inside an app context, with a store
    connection when there is a store. Config and plugin errors exit 2 with their message.

    ``@with_app(read_only=True)`` for a command that only reads existing data (``backup
    list``, ``db status``): on a data directory that does not exist or holds no database it
    exits 2 saying so, instead of creating an empty instance and reporting on that."""
    if command is None:
        return lambda inner: with_app(inner, read_only=read_only)

    @functools.wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        from .config import ConfigError

        state = click.get_current_context().find_object(CliState)
        if state is None:  # a command used outside the `soulspot` group
            raise click.UsageError("with_app commands run under the soulspot command")
        from .api import building_one_off_command

        try:
            with building_one_off_command(read_only=read_only):
                app = state.app()
        except ConfigError as exc:
            fail(str(exc))
        kernel = app.extensions["soulspot"]
        command_path = click.get_current_context().command_path
        with app.app_context():
            from .api import span

            with span(command_path, **{"soulspot.command": command_path}):
                if kernel.storage is not None:
                    with kernel.storage.connection():
                        return command(*args, **kwargs)
                return command(*args, **kwargs)

    return cast(F, wrapped)


def confirm(question: str, yes: bool) -> None:
    """Go on only when ``--yes`` was given or the person at the terminal agrees."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"{question} Refusing without --yes (no terminal to ask on).", code=1)
    if not click.confirm(question, default=False):
        fail("Aborted; nothing was changed.", code=1)


def current_app_from_cli() -> Flask:
    """The app of the running CLI command (inside :func:`with_app`)."""
    from flask import current_app

    return cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]
