"""Test helpers for SoulSpot and its plugins (a pytest plugin: ``pytest_plugins =
["soulspot.testing"]``).

Fixtures:

- ``make_app(config=..., plugins=[("name", module)], disable=[...], only=[...])`` builds an
  app on a fresh data dir under ``tmp_path``, isolated from the caller's ``SOULSPOT_*``
  environment (``only`` disables every installed plugin not named);
- ``live_server(app)`` serves an app on a free loopback port in a background thread
  (waitress, the same server as ``soulspot serve``) until the test ends;
- ``run_cli(args, config=..., disable=..., only=...)`` runs the ``soulspot`` command in
  process (click's ``CliRunner``) against a config file under ``tmp_path``; every call of
  one test shares one data dir (``data_dir=`` picks another).

Functions: :func:`build_app`, :func:`run_jobs` (run a scheduled job once, as the scheduler
would), :func:`installed_plugins`, :func:`session_cookies` and :func:`signed_in_client` (be
signed in through the auth plugin's real sessions); :class:`LiveServer` (a context manager,
with :meth:`LiveServer.signed_in`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from .app import create_app
from .scheduler import collect_jobs, run_job
from .types import SessionIssuer, User
from .validation import CHECK_RESPONSES

if TYPE_CHECKING:  # pragma: no cover
    import requests
    from click.testing import Result


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def installed_plugins() -> list[str]:
    """Names of every plugin installed in this environment (entry points; nothing imported)."""
    from .plugins import discover

    return sorted(discover())


def _disabled(
    env: Mapping[str, str], disable: Iterable[str], only: Iterable[str] | None
) -> list[str]:
    names = [n for n in env.get("SOULSPOT_DISABLE_PLUGINS", "").split(",") if n.strip()]
    names += list(disable)
    if only is not None:
        keep = set(only)
        names += [n for n in installed_plugins() if n not in keep]
    return sorted(set(names))


def build_app(
    data_dir: Path,
    config: Mapping[str, Any] | None = None,
    *,
    plugins: Iterable[tuple[str, object]] = (),
    disable: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    only: Iterable[str] | None = None,
) -> Flask:
    """An app with its data in ``data_dir`` and no config file unless ``config_path``.

    ``disable`` names plugins to disable; ``only`` disables every installed plugin it does
    not name (plugins passed in ``plugins`` are always registered)."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    base_env.update(env or {})
    disabled = _disabled(base_env, disable, only)
    if disabled:
        base_env["SOULSPOT_DISABLE_PLUGINS"] = ",".join(disabled)
    if config_path is None:
        config_path = data_dir.parent / "soulspot-test.toml"
        if not Path(config_path).exists():
            Path(config_path).parent.mkdir(parents=True, exist_ok=True)
            Path(config_path).write_text("# empty: defaults plus test overrides\n")
    merged = deep_merge({"kernel": {"data_dir": str(data_dir)}}, config or {})
    app = create_app(merged, plugins=plugins, env=base_env, config_path=config_path)
    # Validated views keep the OpenAPI document's promise (status, response model) in tests.
    app.config[CHECK_RESPONSES] = True
    return app


#: Headers a browser sends from SoulSpot's own pages: state-changing requests then pass the
#: CSRF check the way a form on the page would.
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def session_cookies(
    app: Flask, user_id: str = "owner", display_name: str | None = None
) -> dict[str, str]:
    """Cookies (name -> value) that sign ``user_id`` in to ``app``: a real session of the
    enabled auth plugin, created as a completed sign-in would create it (the first user
    claims an unclaimed instance). Raises :class:`LookupError` when no auth plugin is
    enabled, :class:`TypeError` when it cannot issue sessions, :class:`PermissionError` when
    it would refuse this user."""
    auth = app.extensions["soulspot"].auth
    if auth is None:
        raise LookupError(
            "no auth plugin is enabled in this app, so nobody can be signed in (and every "
            "loopback client is let in anyway); enable one, e.g. "
            'make_app(only=["sqlite", "spotify", "your-plugin"])'
        )
    if not isinstance(auth, SessionIssuer):
        raise TypeError(
            f"the auth provider {type(auth).__name__} cannot issue sessions: it has no "
            "issue_session(user) method (soulspot.types.SessionIssuer)"
        )
    with app.app_context():
        return dict(auth.issue_session(User(id=user_id, display_name=display_name or user_id)))


def signed_in_client(
    app: Flask, user_id: str = "owner", display_name: str | None = None
) -> FlaskClient:
    """``app.test_client()`` carrying the session cookies of :func:`session_cookies` and the
    headers of a browser on SoulSpot's own pages (``Sec-Fetch-Site: same-origin``), so pages,
    API calls and form posts go through as for the signed-in ``user_id``."""
    client = app.test_client()
    for name, value in session_cookies(app, user_id, display_name).items():
        client.set_cookie(name, value)
    client.environ_base.update({"HTTP_SEC_FETCH_SITE": "same-origin"})
    return client


def run_jobs(app: Flask, job_id: str) -> None:
    """Run the scheduled job ``job_id`` once, as the scheduler would; raise what it raised."""
    for job in collect_jobs(app):
        if job.id == job_id:
            error = run_job(app, job)
            if error is not None:
                raise error
            return
    raise LookupError(f"no job {job_id!r}")


class LiveServer:
    """Serve an app on ``127.0.0.1:<free port>`` (or ``port``) in a thread; ``url`` is its
    base URL."""

    def __init__(self, app: Flask, threads: int = 4, port: int = 0) -> None:
        from waitress.server import create_server

        self.app = app
        #: The server's socket map (create_server's ``map``): every channel it serves.
        self.channels: dict[int, Any] = {}
        self.server = create_server(
            app, map=self.channels, host="127.0.0.1", port=port, threads=threads
        )
        self.url = f"http://127.0.0.1:{self.server.effective_port}"  # type: ignore[union-attr]
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def signed_in(
        self, user_id: str = "owner", display_name: str | None = None
    ) -> requests.Session:
        """A ``requests.Session`` signed in to this server as ``user_id`` (cookies of
        :func:`session_cookies`, headers of a browser on SoulSpot's own pages). For scripts
        and browsers, :func:`session_cookies` gives the cookies alone."""
        import requests

        http = requests.Session()
        for name, value in session_cookies(self.app, user_id, display_name).items():
            http.cookies.set(name, value, domain="127.0.0.1", path="/")
        http.headers.update(SAME_ORIGIN)
        return http

    def __exit__(self, *exc: object) -> None:
        # Close every socket (listener, keep-alive connections, trigger) from inside the
        # server's own loop thread: closing them from here races its select() (EBADF), and
        # an open keep-alive connection would keep the loop alive until the join times out.
        server: Any = self.server

        def stop() -> None:
            for channel in list(self.channels.values()):
                channel.close()

        try:
            server.trigger.pull_trigger(stop)
        except OSError:
            # The trigger's pipe is already closed (seen ~once in four full runs under xdist:
            # EBADF here, cause not found). Close from this thread instead: the loop's next
            # select() then fails or finds nothing to watch, and either way the loop ends.
            with contextlib.suppress(OSError):
                stop()
        self.thread.join(timeout=5)
        server.task_dispatcher.shutdown()


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Factory fixture: ``make_app(config=None, plugins=(), disable=())``."""
    counter = iter(range(1000))

    def factory(
        config: Mapping[str, Any] | None = None,
        *,
        plugins: Iterable[tuple[str, object]] = (),
        disable: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        data_dir: Path | None = None,
        only: Iterable[str] | None = None,
    ) -> Flask:
        target = data_dir or tmp_path / f"data{next(counter)}"
        return build_app(target, config, plugins=plugins, disable=disable, env=env, only=only)

    yield factory


@pytest.fixture
def live_server() -> Iterator[Callable[..., LiveServer]]:
    """Factory fixture: ``server = live_server(app, threads=4, port=0)`` serves ``app`` on
    ``server.url`` until the test ends (``port=0``: a free one)."""
    started: list[LiveServer] = []

    def start(app: Flask, threads: int = 4, port: int = 0) -> LiveServer:
        server = LiveServer(app, threads=threads, port=port).__enter__()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.__exit__(None, None, None)


def to_toml(config: Mapping[str, Any]) -> str:
    """Write a nested mapping of tables and plain values (str, int, float, bool, lists of
    those) as TOML."""
    import json

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v))

    lines: list[str] = []

    def table(prefix: str, data: Mapping[str, Any]) -> None:
        plain = {k: v for k, v in data.items() if not isinstance(v, Mapping)}
        if prefix and (plain or not data):
            lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {value(v)}" for k, v in plain.items())
        for k, v in data.items():
            if isinstance(v, Mapping):
                table(f"{prefix}.{k}" if prefix else k, v)

    table("", config)
    return "\n".join(lines) + "\n"


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., Result]:
    """Factory fixture: ``result = run_cli(["hello", "greet"], config={...}, disable=[...],
    only=[...], env={...}, input="y\\n", data_dir=None)`` runs ``soulspot`` in process with a
    config file whose ``[kernel] data_dir`` is ``tmp_path / "cli-data"``: every call of one
    test shares that data dir (so "add, then count" counts), unless ``data_dir=`` (or a
    ``[kernel] data_dir`` in ``config``) names another. Returns click's ``Result``
    (``exit_code``, ``output``, ``stdout``, ``stderr``)."""

    from click.testing import CliRunner

    from . import cli as cli_module

    counter = iter(range(1000))

    def invoke(
        args: Iterable[str],
        *,
        config: Mapping[str, Any] | None = None,
        disable: Iterable[str] = (),
        only: Iterable[str] | None = None,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
    ) -> Result:
        n = next(counter)
        path = tmp_path / f"cli{n}.toml"
        target = tmp_path / "cli-data" if data_dir is None else Path(data_dir)
        merged = deep_merge({"kernel": {"data_dir": str(target)}}, config or {})
        path.write_text(to_toml(merged))
        run_env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SOULSPOT")}
        run_env.update(env or {})
        disabled = _disabled({k: v for k, v in run_env.items() if v is not None}, disable, only)
        run_env["SOULSPOT_DISABLE_PLUGINS"] = ",".join(disabled) or None
        # plugin commands are collected per invocation (see soulspot.cli.SoulspotGroup)
        return CliRunner().invoke(
            cli_module.cli,
            ["--config", str(path), *args],
            env=run_env,
            input=input,
            prog_name="soulspot",
        )

    return invoke
