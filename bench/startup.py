"""Start-up budgets of SoulSpot, each measured side by side with a baseline in the same run.

- ``soulspot --help`` in a fresh process (every plugin module imported to collect commands):
  budget <= 300 ms; baseline ``python -c pass``.
- ``soulspot serve`` until ``GET /health/live`` answers 200 (the first 200 from any route if
  the observability plugin is not installed): budget <= 1.5 s; baseline a bare Flask app
  served by waitress.
- idle resident memory (VmRSS) of that serving process after a few requests: budget <= 80 MiB;
  baseline the bare Flask + waitress process.

Runs with the default configuration (every installed plugin enabled) in a temporary working
directory (fresh data dir), with no ``SOULSPOT_*`` variables. Prints medians, the ratio to
the baseline and whether the budget holds.

Run: ``.venv/bin/python bench/startup.py [--runs 7] [--check]`` (``--check`` exits 1 when a
budget is missed). ``make bench`` runs every ``bench/*.py``. Find what a slow ``--help``
imports with ``python -X importtime -m soulspot.cli --help 2>&1 | sort -t'|' -k2 -n | tail``.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SOULSPOT = str(BIN / "soulspot")
BUDGET_HELP = 0.300
BUDGET_READY = 1.5
BUDGET_RSS_MIB = 80.0

BARE_SERVER = textwrap.dedent(
    """
    import sys
    from flask import Flask
    from waitress import serve

    app = Flask("bare")

    @app.get("/health/live")
    def live():
        return {"status": "ok"}

    serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=8, _quiet=True)
    """
)


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    env.pop("PYTHONPATH", None)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_command(args: list[str], cwd: Path, runs: int) -> tuple[float, float]:
    """Median wall and CPU (user + system) seconds of a fresh process running ``args``."""
    subprocess.run(args, cwd=cwd, env=clean_env(), capture_output=True, check=True)  # warm-up
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=clean_env(), capture_output=True, check=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_of(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def serve_until_ready(
    args: list[str], cwd: Path, port: int, paths: list[str]
) -> tuple[float, float, float, str]:
    """Start a server; poll until one of ``paths`` answers 200; return (seconds to ready, CPU
    seconds the server used until then, idle RSS in MiB after a few requests, the path)."""
    started = time.perf_counter()
    proc = subprocess.Popen(  # a fixed argument list, no shell
        args, cwd=cwd, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = started + 30
        ready_path = ""
        while time.perf_counter() < deadline and not ready_path:
            if proc.poll() is not None:
                raise RuntimeError(f"{args[0]} exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            for path in paths:
                if status_of(f"http://127.0.0.1:{port}{path}") == 200:
                    ready_path = path
                    break
            else:
                time.sleep(0.01)  # polling a server that is starting: this is the measurement
        if not ready_path:
            raise RuntimeError(f"{args} never answered 200 on {paths}")
        ready = time.perf_counter() - started
        cpu = cpu_seconds(proc.pid)
        for _ in range(20):
            status_of(f"http://127.0.0.1:{port}{ready_path}")
        time.sleep(0.5)  # let the process settle to idle before reading its memory
        return ready, cpu, rss_mib(proc.pid), ready_path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def verdict(value: float, budget: float) -> str:
    return "ok" if value <= budget else "OVER BUDGET"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="repetitions per measurement")
    parser.add_argument("--check", action="store_true", help="exit 1 when a budget is missed")
    opts = parser.parse_args()

    over = False
    with tempfile.TemporaryDirectory(prefix="soulspot-bench-") as tmp:
        cwd = Path(tmp)
        (cwd / "bare.py").write_text(BARE_SERVER)

        base, base_cpu = time_command([sys.executable, "-c", "pass"], cwd, opts.runs)
        help_, help_cpu = time_command([SOULSPOT, "--help"], cwd, opts.runs)
        over |= help_ > BUDGET_HELP

        ours: list[tuple[float, float, float]] = []
        bare: list[tuple[float, float, float]] = []
        path = ""
        for _ in range(max(3, opts.runs // 2)):
            port = free_port()
            *numbers, path = serve_until_ready(
                [SOULSPOT, "serve", "--port", str(port)], cwd, port, ["/health/live", "/"]
            )
            ours.append(tuple(numbers))  # type: ignore[arg-type]
            port = free_port()
            *numbers, _ = serve_until_ready(
                [sys.executable, str(cwd / "bare.py"), str(port)], cwd, port, ["/health/live"]
            )
            bare.append(tuple(numbers))  # type: ignore[arg-type]
        ready, ready_cpu, rss = (statistics.median(x[i] for x in ours) for i in range(3))
        ready_b, ready_cpu_b, rss_b = (statistics.median(x[i] for x in bare) for i in range(3))
        over |= ready > BUDGET_READY or rss > BUDGET_RSS_MIB

    load = os.getloadavg()[0]
    print(f"medians; load average {load:.1f} on {os.cpu_count()} CPUs (wall times grow with it)")
    print(f"{'measurement':<36}{'soulspot':>11}{'baseline':>11}{'ratio':>7}  budget")
    rows = [
        ("soulspot --help, wall", help_, base, "ms", BUDGET_HELP),
        ("soulspot --help, CPU", help_cpu, base_cpu, "ms", None),
        (f"serve -> 200 on {path}, wall", ready, ready_b, "ms", BUDGET_READY),
        (f"serve -> 200 on {path}, CPU", ready_cpu, ready_cpu_b, "ms", None),
        ("idle RSS of serve", rss, rss_b, "MiB", BUDGET_RSS_MIB),
    ]
    for label, value, baseline, unit, budget in rows:
        scale = 1000 if unit == "ms" else 1
        shown = f"{value * scale:>8.0f}{unit:<3}{baseline * scale:>8.0f}{unit:<3}"
        if unit == "MiB":
            shown = f"{value:>8.1f}{unit:<3}{baseline:>8.1f}{unit:<3}"
        limit = ""
        if budget is not None:
            limit = f"<= {budget * scale:g} {unit}: {verdict(value, budget)}"
        print(f"{label:<36}{shown}{value / baseline:>6.1f}x  {limit}")
    print("baselines: `python -c pass`; a bare Flask app served by waitress (same threads)")
    return 1 if over and opts.check else 0


if __name__ == "__main__":
    sys.exit(main())
