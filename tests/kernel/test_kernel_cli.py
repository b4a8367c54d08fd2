"""The ``soulspot`` command (issue 2, item 5): ``serve`` (default bind, ``--host/--port``, its
URL, the scheduler, clean SIGTERM), plugin sub-commands, ``with_app``, ``confirm``/``--yes``,
and ``flask --app soulspot`` for development."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from kernel_support import (
    ALL_BUILTINS_OFF,
    FLASK,
    SOULSPOT,
    Process,
    assert_refused,
    clean_env,
    make_dist,
    manifest_plugin,
    run_soulspot,
    unique,
)

from soulspot.cli import confirm
from soulspot.config import KernelConfig

OFF = {"SOULSPOT_DISABLE_PLUGINS": ALL_BUILTINS_OFF}

LIFECYCLE = """
import sys


@hookimpl
def startup(app):
    sys.stdout.write("hook: startup\\n")
    sys.stdout.flush()


@hookimpl
def before_serve(app):
    sys.stdout.write("hook: before_serve\\n")
    sys.stdout.flush()


@hookimpl
def shutdown(app):
    sys.stdout.write("hook: shutdown\\n")
    sys.stdout.flush()


@hookimpl
def jobs(app):
    from soulspot.types import Job

    def tick():
        from soulspot.api import request_id
        sys.stdout.write(f"hook: job ran as {request_id()}\\n")
        sys.stdout.flush()

    return [Job("lifecycle.tick", tick, "interval", {"hours": 1}, run_at_start=True)]


@hookimpl
def register_commands(cli):
    import click

    from soulspot.cli import confirm, with_app

    @cli.group("lifecycle")
    def group():
        \"\"\"Commands of the lifecycle test plugin.\"\"\"

    @group.command("whoami")
    @with_app
    def whoami():
        \"\"\"Print the app's name and this plugin's config.\"\"\"
        from flask import current_app

        from soulspot.api import config_for

        click.echo(f"app={current_app.name} greeting={config_for('lifecycle').greeting}")

    @group.command("wipe")
    @click.option("--yes", is_flag=True, help="Do not ask.")
    def wipe(yes):
        \"\"\"Pretend to destroy something.\"\"\"
        confirm("Wipe everything?", yes)
        click.echo("wiped")
"""


@pytest.fixture
def lifecycle_dist(tmp_path: Path) -> Path:
    module = unique("lifecycle")
    return make_dist(
        tmp_path / "site",
        plugin="lifecycle",
        module=module,
        dist="soulspot-lifecycle",
        source=manifest_plugin(config_model=f"{module}_config:Config", body=LIFECYCLE),
        extra_modules={f"{module}_config": __import__("kernel_support").CONFIG_MODEL},
    )


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # a loopback URL we started
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _serve(tmp_path: Path, *args: str, env: dict[str, str], dist: Path | None = None) -> Process:
    return Process(
        [SOULSPOT, "serve", *args],
        cwd=tmp_path,
        env=clean_env(env, [dist] if dist else []),
    )


def test_serve_prints_its_url_serves_and_stops_cleanly_on_sigterm(tmp_path, lifecycle_dist):
    proc = _serve(tmp_path, "--port", "0", env=OFF, dist=lifecycle_dist)
    try:
        line = proc.wait_for("SoulSpot listening on ")
        url = re.search(r"(http://127\.0\.0\.1:(\d+))", line)
        assert url, line
        assert int(url.group(2)) > 0
        proc.wait_for("hook: job ran as job-lifecycle.tick-")  # the scheduler runs once, here
        status, body = _get(url.group(1) + "/")
        assert status == 200 and "Dashboard" in body
        status, body = _get(url.group(1) + "/api/plugins")
        assert status == 200
        assert "lifecycle" in {p["name"] for p in json.loads(body) if p["enabled"]}
        proc.proc.send_signal(signal.SIGTERM)
        code, output = proc.finish()
    finally:
        proc.kill()
    assert code == 0, output
    assert "Traceback" not in output
    order = [line for line in output.splitlines() if line.startswith("hook: ")]
    assert order[0] == "hook: startup"
    assert "hook: before_serve" in order
    assert order[-1] == "hook: shutdown"
    assert order.index("hook: before_serve") < order.index("hook: shutdown")


def test_serve_binds_loopback_by_default(tmp_path):
    assert (KernelConfig().host, KernelConfig().port) == ("127.0.0.1", 8765)
    help_text = run_soulspot("serve", "--help", cwd=tmp_path).stdout
    assert "127.0.0.1" in help_text and "8765" in help_text
    # no --host, no --port: the configured values (port moved by env, host the default)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = _serve(tmp_path, env={**OFF, "SOULSPOT__KERNEL__PORT": str(port)})
    try:
        line = proc.wait_for("SoulSpot listening on ")
        assert line.strip() == f"SoulSpot listening on http://127.0.0.1:{port}", line
        proc.proc.send_signal(signal.SIGTERM)
        code, output = proc.finish()
    finally:
        proc.kill()
    assert code == 0, output


def test_serve_host_and_port_options(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.2", 0))
        port = probe.getsockname()[1]
    proc = _serve(tmp_path, "--host", "127.0.0.2", "--port", str(port), env=OFF)
    try:
        line = proc.wait_for("SoulSpot listening on ")
        assert f"http://127.0.0.2:{port}" in line
        assert _get(f"http://127.0.0.2:{port}/")[0] == 200
        proc.proc.send_signal(signal.SIGTERM)
        code, output = proc.finish()
    finally:
        proc.kill()
    assert code == 0, output


def test_serve_refuses_a_public_address_without_auth(tmp_path):
    result = run_soulspot("serve", "--host", "0.0.0.0", "--port", "0", cwd=tmp_path, env=OFF)
    assert_refused(result, "refusing to serve on 0.0.0.0", "only listen on loopback")


def test_serve_on_a_busy_port_says_so(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_soulspot("serve", "--port", str(port), cwd=tmp_path, env=OFF)
    assert result.returncode == 1, result.stderr
    assert "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr


def test_plugin_commands_and_with_app(tmp_path, lifecycle_dist):
    top = run_soulspot("--help", cwd=tmp_path, env=OFF, pythonpath=[lifecycle_dist])
    assert top.returncode == 0
    assert "lifecycle" in top.stdout
    for builtin_command in ("serve", "plugins", "config"):
        assert builtin_command in top.stdout
    result = run_soulspot(
        "lifecycle",
        "whoami",
        cwd=tmp_path,
        env={**OFF, "SOULSPOT__LIFECYCLE__GREETING": "ahoy"},
        pythonpath=[lifecycle_dist],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "app=soulspot greeting=ahoy"
    assert "hook: startup" in result.stdout  # with_app built the app
    # bad config: with_app exits 2 with the message
    result = run_soulspot(
        "lifecycle",
        "whoami",
        cwd=tmp_path,
        env={**OFF, "SOULSPOT__LIFECYCLE__TIMES": "many"},
        pythonpath=[lifecycle_dist],
    )
    assert_refused(result, "SOULSPOT__LIFECYCLE__TIMES", "'many'")
    # disabled plugin: its commands are gone
    env = {"SOULSPOT_DISABLE_PLUGINS": ALL_BUILTINS_OFF + ",lifecycle"}
    top = run_soulspot("--help", cwd=tmp_path, env=env, pythonpath=[lifecycle_dist])
    assert "lifecycle" not in top.stdout
    gone = run_soulspot("lifecycle", "whoami", cwd=tmp_path, env=env, pythonpath=[lifecycle_dist])
    assert gone.returncode == 2 and "No such command 'lifecycle'" in gone.stderr
    # disabled through its env variable: the same
    env = {**OFF, "SOULSPOT__LIFECYCLE__ENABLED": "false"}
    gone = run_soulspot("lifecycle", "whoami", cwd=tmp_path, env=env, pythonpath=[lifecycle_dist])
    assert gone.returncode == 2 and "No such command 'lifecycle'" in gone.stderr
    assert "Traceback" not in gone.stderr


def test_version_and_help_are_quick_to_reach(tmp_path):
    result = run_soulspot("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("soulspot, version ")
    # --help must not import Flask or pydantic (the budget is 300 ms; bench/startup.py)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom soulspot.cli import cli\n"
            "try:\n    cli(['--help'], prog_name='soulspot')\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('flask', 'pydantic', 'werkzeug', 'peewee', 'authlib',"
            " 'structlog', 'cryptography', 'apscheduler', 'prometheus_client', 'waitress')"
            " if m in sys.modules)\nprint('HEAVY', heavy)",
        ],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "HEAVY []" in probe.stdout, probe.stdout


# --- confirm / --yes -------------------------------------------------------------------------


@click.command()
@click.option("--yes", is_flag=True)
def _destroy(yes: bool) -> None:
    confirm("Delete all backups?", yes)
    click.echo("deleted")


def test_confirm_with_yes_goes_ahead():
    result = CliRunner().invoke(_destroy, ["--yes"])
    assert result.exit_code == 0 and result.output == "deleted\n"


def test_confirm_without_a_terminal_refuses():
    result = CliRunner().invoke(_destroy, [])
    assert result.exit_code == 1
    assert "Delete all backups? Refusing without --yes (no terminal to ask on)." in result.output
    assert "deleted" not in result.output


def _in_a_terminal(answer: bytes, tmp_path: Path, dist: Path) -> tuple[int, str]:
    """Run ``soulspot lifecycle wipe`` on a pseudo-terminal and type ``answer``."""
    import pty

    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [SOULSPOT, "lifecycle", "wipe"],
        cwd=tmp_path,
        env=clean_env(OFF, [dist]),
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    seen = b""
    answered = False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], deadline - time.monotonic())
            if not ready:
                break
            try:
                chunk = os.read(primary, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if not answered and b"[y/N]" in seen:
                os.write(primary, answer)
                answered = True
        return proc.wait(timeout=30), seen.decode(errors="replace")
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    ("answer", "code", "text"),
    [(b"y\n", 0, "wiped"), (b"n\n", 1, "Aborted; nothing was changed."), (b"\n", 1, "Aborted")],
)
def test_confirm_on_a_terminal_asks(tmp_path, lifecycle_dist, answer, code, text):
    exit_code, output = _in_a_terminal(answer, tmp_path, lifecycle_dist)
    assert "Wipe everything? [y/N]" in output
    assert exit_code == code, output
    assert text in output
    if code:
        assert "wiped" not in output


# --- flask --app soulspot --------------------------------------------------------------------


def test_flask_app_soulspot_works_for_development(tmp_path):
    result = run_soulspot("--app", "soulspot", "routes", cwd=tmp_path, env=OFF, program=FLASK)
    assert result.returncode == 0, result.stderr
    for endpoint, rule in (
        ("kernel.dashboard", "/"),
        ("kernel.plugins_page", "/plugins"),
        ("kernel.api_plugins", "/api/plugins"),
    ):
        assert re.search(
            rf"{re.escape(endpoint)}\s+GET\s+{re.escape(rule)}\s*$", result.stdout, re.M
        )


def test_flask_run_serves_the_app(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = Process(
        [FLASK, "--app", "soulspot", "run", "--port", str(port), "--no-reload"],
        cwd=tmp_path,
        env=clean_env(OFF),
    )
    try:
        proc.wait_for(f"Running on http://127.0.0.1:{port}")
        status, body = _get(f"http://127.0.0.1:{port}/plugins")
        assert status == 200 and "<h1>Plugins</h1>" in body
    finally:
        proc.proc.send_signal(signal.SIGINT)
        try:
            proc.finish(timeout=15)
        finally:
            proc.kill()


def test_second_serve_on_the_same_data_dir_refuses_naming_the_first(tmp_path):
    """The first `soulspot serve` holds the data directory; a second one exits 2 before it
    binds, saying which process serves it."""
    import subprocess
    import sys

    data = tmp_path / "data"
    data.mkdir()
    code = (
        "import time; from pathlib import Path; from soulspot.datadir import acquire; "
        f"acquire(Path({str(data)!r}), 'soulspot serve on http://127.0.0.1:8765'); "
        "print('held', flush=True); time.sleep(60)"
    )
    first = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "held"
        config = tmp_path / "soulspot.toml"
        config.write_text(
            f'[kernel]\ndata_dir = "{data}"\n\n[plugins.spotify]\nenabled = false\n'
            "\n[plugins.library]\nenabled = false\n\n[plugins.collection]\nenabled = false\n"
        )
        second = subprocess.run(
            [
                str(Path(sys.executable).parent / "soulspot"),
                "--config",
                str(config),
                "serve",
                "--port",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 2, second.stderr
    assert f"pid {first.pid} (soulspot serve on http://127.0.0.1:8765)" in second.stderr
    assert "Traceback" not in second.stderr
