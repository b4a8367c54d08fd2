"""No refused connection across a restart: ``soulspot.socket`` holds the listening socket,
``soulspot serve`` takes it over (systemd's LISTEN_FDS protocol) and drains in-flight requests
before it exits. Run for real with ``systemd-socket-activate`` and the real ``soulspot serve``;
a supervisor stand-in restarts the service (systemd cannot be PID 1 here)."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from deploy_support import REPO, SOULSPOT, run
from socket_support import (
    ClientLoop,
    ctl,
    get,
    slow_distribution,
    socket_service,
    standin_state,
    wait_ready,
)

UNITS = REPO / "deploy" / "systemd"


def test_socket_unit_verifies_with_the_service(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing: run scripts/install-system-deps.sh"
    socket_unit = (UNITS / "soulspot.socket").read_text()
    service = (UNITS / "soulspot.service").read_text()
    assert "ListenStream=127.0.0.1:8765" in socket_unit and "Accept=no" in socket_unit
    assert "Wants=network-online.target soulspot.socket" in service
    (tmp_path / "soulspot.socket").write_text(socket_unit)
    (tmp_path / "soulspot.service").write_text(
        service.replace("/opt/soulspot/bin/soulspot", SOULSPOT)
    )
    verify = subprocess.run(
        [analyze, "verify", str(tmp_path / "soulspot.socket"), str(tmp_path / "soulspot.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stderr
    assert "soulspot.socket" not in verify.stderr, verify.stderr


def test_a_passed_descriptor_that_is_no_listening_socket_is_refused(tmp_path: Path) -> None:
    script = f'LISTEN_FDS=1 LISTEN_PID=$$ exec {SOULSPOT} serve 3<"$0"'
    result = run(["sh", "-c", script, str(REPO / "README.md")], cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "file descriptor 3 is not a socket" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_restart_refuses_no_connection_and_finishes_in_flight_requests(tmp_path: Path) -> None:
    env = {
        "SOULSPOT__KERNEL__DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(slow_distribution(tmp_path)),
    }
    with socket_service(tmp_path, env, [SOULSPOT, "serve"]) as (url, state_dir):
        wait_ready(url)
        first = standin_state(state_dir)["child"]
        slow: list[tuple[int, bytes]] = []
        in_flight = threading.Thread(
            target=lambda: slow.append(get(f"{url}/drill/slow?seconds=1.5")), daemon=True
        )
        with ClientLoop(f"{url}/health/live").running() as loop:
            in_flight.start()
            time.sleep(0.3)  # let the slow request reach the old process before the restart
            ctl(state_dir, "restart")
            wait_ready(url)
            served_before = len(loop.outcomes)
            deadline = time.monotonic() + 10
            while len(loop.outcomes) < served_before + 5 and time.monotonic() < deadline:
                time.sleep(0.05)
        in_flight.join(timeout=30)
        state = standin_state(state_dir)
        assert state["starts"] == 2 and state["child"] != first, state
        assert loop.failures() == [], loop.failures()[:5]
        assert len(loop.outcomes) >= 10, loop.outcomes
        # The request that was running when SIGTERM came finished, whole.
        assert slow and slow[0][0] == 200, slow
        assert slow[0][1] == b"finished " + b"x" * 100000
    log = (tmp_path / "service.log").read_text()
    assert '"event": "draining"' in log and '"event": "drained"' in log, log[-3000:]
