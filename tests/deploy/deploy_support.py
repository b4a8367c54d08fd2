"""Helpers of the deployment tests: run the real ``soulspot`` command and serve it as a
process, exactly as an operator (or a container) would."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SOULSPOT = str(BIN / "soulspot")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without ``SOULSPOT*`` variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    env.pop("PYTHONPATH", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def run(
    args: list[str] | str,
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    shell: bool = False,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        shell=shell,
        input=input,
        executable="/bin/bash" if shell else None,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def wait_for(url: str, deadline: float = 20.0, proc: subprocess.Popen[str] | None = None) -> None:
    """Wait until ``url`` answers at all (any status) or fail with what the process said."""
    end = time.monotonic() + deadline
    last: Exception | None = None
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"server exited {proc.returncode}:\n{out}\n{err}")
        try:
            http_get(url, timeout=1)
            return
        except OSError as exc:
            last = exc
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {deadline}s: {last}")


@contextmanager
def serving(
    cwd: Path,
    env: Mapping[str, str],
    args: list[str] | None = None,
    port: int | None = None,
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``soulspot serve`` on 127.0.0.1:<port> as a subprocess; stopped with SIGTERM after."""
    port = port or free_port()
    cmd = args or [SOULSPOT, "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/favicon.ico", proc=proc)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def shell_blocks(markdown: str, lang: str = "sh") -> list[str]:
    """The fenced code blocks of ``markdown`` in language ``lang`` (in order)."""
    return [
        m.group(1)
        for m in re.finditer(rf"^```{lang}[^\n]*\n(.*?)^```", markdown, flags=re.M | re.S)
    ]
