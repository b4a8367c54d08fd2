"""``soulspot.testing``, the toolkit plugin authors test with: ``make_app`` (with ``only``),
``live_server``, ``run_cli``, ``run_jobs``, ``to_toml``."""

from __future__ import annotations

import tomllib
import urllib.request

from kernel_support import BUILTINS

from soulspot import hookimpl
from soulspot.testing import installed_plugins, to_toml
from soulspot.types import PluginManifest


class Tiny:
    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="tiny")


def test_installed_plugins_lists_the_builtins():
    assert set(BUILTINS) <= set(installed_plugins())


def test_make_app_only(make_app):
    app = make_app(plugins=[("tiny", Tiny())], only=[])
    enabled = {p.name for p in app.extensions["soulspot"].plugins if p.enabled}
    assert enabled == {"tiny"}
    app = make_app(only=["sqlite"])
    enabled = {p.name for p in app.extensions["soulspot"].plugins if p.enabled}
    assert enabled == {"sqlite"}


def test_make_app_ignores_the_callers_environment(make_app, monkeypatch):
    monkeypatch.setenv("SOULSPOT__KERNEL__PORT", "not a number")
    monkeypatch.setenv("SOULSPOT_DISABLE_PLUGINS", "no-such-plugin")
    app = make_app(only=[])
    assert app.extensions["soulspot"].settings.kernel.port == 8765


def test_live_server(make_app, live_server):
    server = live_server(make_app(only=[]))
    with urllib.request.urlopen(server.url + "/api/plugins", timeout=10) as resp:  # loopback
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/json")


def test_run_cli(run_cli, monkeypatch):
    monkeypatch.setenv("SOULSPOT__KERNEL__PORT", "not a number")  # isolated from the caller
    result = run_cli(["config", "show", "--json"], config={"kernel": {"threads": 3}}, only=[])
    assert result.exit_code == 0, result.output
    assert '"value": 3' in result.stdout
    result = run_cli(["config", "check"], config={"kernel": {"threads": "x"}}, only=[])
    assert result.exit_code == 2
    assert "kernel.threads = 'x'" in result.stderr
    result = run_cli(["plugins", "--json"], disable=["metrics"])
    assert result.exit_code == 0
    assert '"enabled": false' in result.stdout


def test_to_toml_round_trips():
    data = {
        "kernel": {"data_dir": "/srv/soulspot", "port": 9000, "public_url": 'a "quoted" url'},
        "plugins": {"hello": {"enabled": False, "names": ["a", "b"], "ratio": 0.5}},
    }
    assert tomllib.loads(to_toml(data)) == data


def test_live_server_stops_even_when_its_trigger_pipe_is_gone(make_app, monkeypatch):
    """LiveServer stops waitress from its own loop thread through the trigger pipe; when
    that pipe is already unusable (EBADF), it closes the server from the test thread."""
    import errno
    import socket

    from soulspot.testing import LiveServer

    server = LiveServer(make_app(plugins=[("tiny", Tiny())], only=[])).__enter__()
    port = int(server.url.rsplit(":", 1)[1])

    def broken(*_args: object) -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(server.server.trigger, "_physical_pull", broken)
    server.__exit__(None, None, None)
    assert not server.thread.is_alive()
    with socket.socket() as probe:  # nothing listens any more
        assert probe.connect_ex(("127.0.0.1", port)) != 0
