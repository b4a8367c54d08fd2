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


# --- signed in, with the auth plugin's real sessions (issue 18, item 2) --------------------

SIGNED_IN = ["sqlite", "spotify"]  # storage + the built-in auth plugin; no OAuth provider


def test_signed_in_client_passes_the_login_gate(make_app):
    from soulspot.testing import signed_in_client

    app = make_app(only=[*SIGNED_IN, "security"])  # with the real CSRF check
    anonymous = app.test_client().get("/api/auth/status")
    assert anonymous.status_code == 401
    client = signed_in_client(app, "ada", "Ada L.")
    status = client.get("/api/auth/status")
    assert status.status_code == 200, status.get_data(as_text=True)
    body = status.get_json()
    assert (body["user_id"], body["display_name"], body["is_owner"]) == ("ada", "Ada L.", True)
    # the real session: listed on the sessions page, ended by signing out
    assert "(this browser)" in client.get("/auth/sessions").get_data(as_text=True)
    assert client.post("/auth/logout").status_code == 302
    assert client.get("/api/auth/status").status_code == 401


def test_the_first_user_claims_the_instance_and_others_are_refused(make_app):
    import pytest

    from soulspot.testing import session_cookies, signed_in_client

    app = make_app(only=SIGNED_IN)
    signed_in_client(app, "ada")
    with pytest.raises(PermissionError, match=r"'bob' may not sign in.*belongs to 'ada'"):
        session_cookies(app, "bob")
    with app.app_context():
        from soulspot.api import storage

        [event] = storage().audit.query(event="auth.sign_in")
    assert (event.actor, event.details["via"]) == ("ada", "issued")


def test_without_an_auth_plugin_the_helper_says_why(make_app):
    import pytest

    from soulspot.testing import session_cookies

    with pytest.raises(LookupError, match="no auth plugin is enabled"):
        session_cookies(make_app(only=["sqlite"]))


def test_live_server_signed_in(make_app, live_server):
    server = live_server(make_app(only=SIGNED_IN))
    http = server.signed_in("ada")
    resp = http.get(server.url + "/api/auth/status", timeout=10)
    assert resp.status_code == 200
    assert resp.json()["user_id"] == "ada"
    resp = http.get(server.url + "/", timeout=10, allow_redirects=False)
    assert resp.status_code == 200  # a page, not the redirect to sign-in


# --- run_cli: one data dir per test (issue 18, item 4) ------------------------------------


def test_run_cli_calls_of_one_test_share_a_data_dir(run_cli, tmp_path):
    assert run_cli(["db", "upgrade"], only=["sqlite"]).exit_code == 0
    status = run_cli(["db", "status"], only=["sqlite"])
    assert status.exit_code == 0, status.output
    assert str(tmp_path / "cli-data") in status.stdout
    assert "1 pending" not in status.stdout  # the upgrade of the first call is seen
    other = run_cli(["db", "status"], only=["sqlite"], data_dir=tmp_path / "other")
    assert other.exit_code == 2 and "has no database" in other.output  # another data dir
