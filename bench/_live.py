"""Shared by bench/capacity.py and bench/soak.py (not a benchmark itself; `make bench` skips
files starting with an underscore): serve SoulSpot as a real `soulspot serve` process on
127.0.0.1, wired to the local OAuth provider of tests/support, and sign clients in."""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

from oauth_provider import LocalOAuthProvider  # noqa: E402

#: Limits high enough that the load generator (every client is 127.0.0.1) measures the app,
#: not the rate limiter (which stays on, so its cost is included).
BENCH_LIMITS = {
    "SOULSPOT__SECURITY__RATE_LIMIT_AUTH": "1000000/minute",
    "SOULSPOT__SECURITY__RATE_LIMIT_API": "1000000/minute",
    "SOULSPOT__SECURITY__RATE_LIMIT_DEFAULT": "1000000/minute",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "sqlite": __import__("sqlite3").sqlite_version,
        "system": f"{platform.system()} {platform.release()}",
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


@dataclass
class Live:
    url: str
    proc: subprocess.Popen[bytes]
    data_dir: Path
    env: dict[str, str]
    provider: LocalOAuthProvider
    stdout_bytes: list[int] = field(default_factory=lambda: [0])
    stdout_lines: list[int] = field(default_factory=lambda: [0])

    def rss(self) -> int:
        return rss_bytes(self.proc.pid)

    def log_counter(self) -> tuple[int, int]:
        return self.stdout_bytes[0], self.stdout_lines[0]


@contextmanager
def live_soulspot(
    work: Path, extra_env: Mapping[str, str] | None = None, threads: int = 8
) -> Iterator[Live]:
    """``soulspot serve`` on a free loopback port with its data in ``work/data``; its stdout
    (the JSON log) is counted, not kept."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = work / "data"
    with LocalOAuthProvider(
        client_id="soulspot-bench", redirect_uris=[f"{url}/auth/callback"]
    ) as provider:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
        env.update(
            SOULSPOT__KERNEL__DATA_DIR=str(data),
            SOULSPOT__KERNEL__PORT=str(port),
            SOULSPOT__KERNEL__THREADS=str(threads),
            SOULSPOT__OBSERVABILITY__LOG_FORMAT="json",
            SOULSPOT__SPOTIFY__CLIENT_ID="soulspot-bench",
            SOULSPOT__SPOTIFY__AUTHORIZE_URL=provider.authorize_url,
            SOULSPOT__SPOTIFY__TOKEN_URL=provider.token_url,
            SOULSPOT__SPOTIFY__API_BASE_URL=provider.api_base_url,
            PYTHONDONTWRITEBYTECODE="1",
            **BENCH_LIMITS,
        )
        env.update(extra_env or {})
        proc = subprocess.Popen(
            [str(BIN / "soulspot"), "serve", "--host", "127.0.0.1"],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        live = Live(url, proc, data, env, provider)

        def drain() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                live.stdout_bytes[0] += len(line)
                live.stdout_lines[0] += 1

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"soulspot serve exited with {proc.returncode}")
            try:
                if requests.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("soulspot serve did not become ready in 60 s")
            time.sleep(0.1)
        try:
            yield live
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            reader.join(timeout=5)


def sign_in(url: str) -> requests.Session:
    """A signed-in client: the login gate sends it through the provider (auto-approve)."""
    session = requests.Session()
    resp = session.get(f"{url}/", timeout=30)
    if resp.status_code != 200 or not resp.url.startswith(url):
        raise RuntimeError(f"sign-in failed: {resp.status_code} {resp.url}")
    return session


def sign_out(session: requests.Session, url: str) -> int:
    """POST /auth/logout as a same-origin form (the Origin header passes the CSRF check)."""
    resp = session.post(
        f"{url}/auth/logout", headers={"Origin": url}, timeout=30, allow_redirects=False
    )
    return resp.status_code
