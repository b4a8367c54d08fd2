"""Run the real ``soulspot serve`` the way ``soulspot.socket`` + ``soulspot.service`` do:
``systemd-socket-activate`` holds the listening socket, the supervisor stand-in restarts the
service on it (systemd cannot be PID 1 in the test environment)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from deploy_support import clean_env, free_port

STANDIN = Path(__file__).with_name("supervisor_standin.py")

SLOW_PLUGIN = '''
"""A third-party plugin for the restart drills: a request that takes a while."""
import time

from flask import Blueprint, request

from soulspot import hookimpl
from soulspot.api import public
from soulspot.types import PluginManifest

bp = Blueprint("drill", __name__)


@bp.get("/drill/slow")
@public
def slow():
    time.sleep(float(request.args.get("seconds", "1")))
    return "finished " + "x" * 100000


@hookimpl
def manifest():
    return PluginManifest(description="Restart drill: a slow request")


@hookimpl
def register_blueprints(app):
    return [bp]
'''


def slow_distribution(root: Path) -> Path:
    """An installed-looking ``soulspot-drill`` distribution; put the folder on PYTHONPATH."""
    folder = root / "drill-dist"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "soulspot_drill.py").write_text(SLOW_PLUGIN)
    info = folder / "soulspot_drill-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: soulspot-drill\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[soulspot.plugins]\ndrill = soulspot_drill\n")
    return folder


def socket_activate() -> str:
    found = shutil.which("systemd-socket-activate")
    assert found, "systemd-socket-activate missing: run scripts/install-system-deps.sh"
    return found


def ctl(state_dir: Path, action: str) -> str:
    """``restart``/``stop``/``start``/``restarts`` through the stand-in (waits for it)."""
    done = subprocess.run(
        [sys.executable, str(STANDIN), "ctl", str(state_dir), action],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def ctl_command(state_dir: Path, action: str) -> str:
    """The shell command an upgrade tool runs to ``action`` the stand-in."""
    return f"{sys.executable} {STANDIN} ctl {state_dir} {action}"


def standin_state(state_dir: Path) -> dict[str, object]:
    return dict(json.loads((state_dir / "state.json").read_text()))


@contextmanager
def socket_service(
    cwd: Path, env: Mapping[str, str], command: list[str], port: int | None = None
) -> Iterator[tuple[str, Path]]:
    """``command`` served on a socket held by systemd-socket-activate; yields the base URL
    and the stand-in's state folder. Everything is stopped afterwards."""
    port = port or free_port()
    state_dir = cwd / "supervisor"
    state_dir.mkdir(exist_ok=True)
    # systemd-socket-activate passes on only the variables named with -E (like a unit's
    # Environment= lines), so the service's environment is spelled out.
    service_env = clean_env(env)
    setenv = [f"--setenv={k}={v}" for k, v in sorted(service_env.items())]
    log = open(cwd / "service.log", "ab")  # noqa: SIM115 - closed below, the child keeps its own
    proc = subprocess.Popen(
        [
            socket_activate(),
            "-l",
            f"127.0.0.1:{port}",
            *setenv,
            sys.executable,
            str(STANDIN),
            str(state_dir),
            "--",
            *command,
        ],
        cwd=cwd,
        env=service_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}", state_dir
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # before exec: the activator; after: the stand-in
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def get(url: str, timeout: float = 30.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_ready(url: str, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if get(f"{url}/health/ready", timeout=5)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} not ready within {deadline}s")


@dataclass
class ClientLoop:
    """Requests one after another on fresh connections, each outcome recorded, until
    stopped: what a user's browser does while an operator restarts the service."""

    url: str
    #: Seconds a request may wait (a browser waits minutes; a crash-looping upgrade that
    #: rolls back keeps requests in the socket's backlog for tens of seconds).
    timeout: float = 30.0
    outcomes: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                status, _ = get(self.url, timeout=self.timeout)
                self.outcomes.append(str(status))
            except OSError as exc:  # refused, reset, timed out
                self.outcomes.append(f"{type(exc).__name__}: {exc}")

    @contextmanager
    def running(self) -> Iterator[ClientLoop]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            thread.join(timeout=60)

    def failures(self) -> list[str]:
        return [o for o in self.outcomes if o != "200"]
