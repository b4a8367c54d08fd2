"""A stand-in for systemd in the deployment tests (systemd cannot be PID 1 here).

Run it under ``systemd-socket-activate -l 127.0.0.1:PORT python supervisor_standin.py
STATE_DIR -- COMMAND...``: systemd-socket-activate owns the listening socket and hands it over
(file descriptor 3, ``LISTEN_FDS``/``LISTEN_PID``), exactly as ``soulspot.socket`` does; this
process keeps it open and runs COMMAND (the real ``soulspot serve``) with the socket passed on,
like ``soulspot.service`` with ``Restart=on-failure``:

- ``SIGHUP`` restarts (SIGTERM, wait for the exit, start again: ``systemctl restart``);
- ``SIGUSR1`` stops the command and keeps it stopped (``systemctl stop``; the socket stays);
- ``SIGUSR2`` starts it again (``systemctl start``);
- a command that exits non-zero is started again after 0.2 s and counted (``NRestarts``).

``STATE_DIR/state.json`` says what it is doing. ``python supervisor_standin.py ctl STATE_DIR
restart|stop|start|restarts`` sends the signal and waits for it to take effect, so the upgrade
tool can use it as its restart/stop/start/restart-count commands.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

RESTART_SECONDS = 0.2
STOP_TIMEOUT = 30.0


class Standin:
    def __init__(self, state_dir: Path, command: list[str]) -> None:
        self.state_dir = state_dir
        self.command = command
        self.child: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.starts = 0
        self.wanted = True
        self.pending: list[str] = []

    def write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "child": self.child.pid if self.child is not None else None,
            "running": self.child is not None and self.child.poll() is None,
            "wanted": self.wanted,
            "restarts": self.restarts,
            "starts": self.starts,
        }
        tmp = self.state_dir / "state.json.tmp"
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.state_dir / "state.json")

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("LISTEN_PID", "LISTEN_FDS")}
        # LISTEN_PID must name the serving process itself: the shell sets it to its own pid
        # and execs, so the pid stays the same (what systemd does between fork and exec).
        script = 'LISTEN_FDS=1 LISTEN_PID=$$ exec "$@"'
        self.child = subprocess.Popen(
            ["/bin/sh", "-c", script, "sh", *self.command], env=env, pass_fds=(3,)
        )
        self.starts += 1
        self.write_state()

    def stop(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
            try:
                self.child.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()
        self.write_state()

    def run(self) -> int:
        for signum, action in (
            (signal.SIGHUP, "restart"),
            (signal.SIGUSR1, "stop"),
            (signal.SIGUSR2, "start"),
            (signal.SIGTERM, "exit"),
        ):
            signal.signal(signum, lambda _s, _f, a=action: self.pending.append(a))
        self.start()
        while True:
            while self.pending:
                action = self.pending.pop(0)
                if action == "exit":
                    self.wanted = False
                    self.stop()
                    return 0
                if action in ("restart", "stop"):
                    self.wanted = action == "restart"
                    self.stop()
                if action in ("restart", "start"):
                    self.wanted = True
                    self.start()
            if self.child is not None and self.child.poll() is not None and self.wanted:
                if self.child.returncode != 0:
                    self.restarts += 1
                    self.write_state()
                    time.sleep(RESTART_SECONDS)
                    if self.wanted and not self.pending:
                        self.start()
                else:
                    self.wanted = False
                    self.write_state()
            time.sleep(0.02)


def read_state(state_dir: Path) -> dict[str, object]:
    return dict(json.loads((state_dir / "state.json").read_text()))


def ctl(state_dir: Path, action: str) -> int:
    """Send ``action`` to the stand-in and wait until it took effect."""
    before = read_state(state_dir)
    if action == "restarts":
        print(before["restarts"])
        return 0
    signum = {"restart": signal.SIGHUP, "stop": signal.SIGUSR1, "start": signal.SIGUSR2}[action]
    os.kill(int(str(before["pid"])), signum)
    deadline = time.monotonic() + STOP_TIMEOUT + 5
    while time.monotonic() < deadline:
        state = read_state(state_dir)
        if action == "stop" and not state["running"] and not state["wanted"]:
            return 0
        if action != "stop" and int(str(state["starts"])) > int(str(before["starts"])):
            return 0
        time.sleep(0.02)
    print(f"supervisor stand-in: {action} did not take effect", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["ctl"]:
        return ctl(Path(argv[1]), argv[2])
    state_dir, sep, *command = argv
    assert sep == "--" and command, "usage: supervisor_standin.py STATE_DIR -- COMMAND..."
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or os.environ.get("LISTEN_FDS") != "1":
        print("run me under systemd-socket-activate (one listening socket)", file=sys.stderr)
        return 2
    return Standin(Path(state_dir), command).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
