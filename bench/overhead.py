"""What SoulSpot's plugins cost per request, measured against a bare Flask app in the same run.

Both apps are served by waitress with the same number of threads, each in its own process
(SoulSpot through ``soulspot.server.serve``, what ``soulspot serve`` runs, scheduler off);
one load generator (keep-alive HTTP/1.1 connections in threads) measures them in
alternating rounds so machine noise hits both alike. Reported:
requests per second and p50/p99 latency (best round of each), and the ratio SoulSpot / bare
Flask (median over back-to-back pairs of rounds, which a busy machine disturbs least) for

- ``GET /health/live`` with every default plugin enabled (target >= 0.75x), and
- a signed-in API call, ``GET /api/plugins`` with the session cookie of a real sign-in
  through the local OAuth provider of tests/support (target >= 0.5x).

Then what tracing costs that signed-in call (issue 20), three SoulSpot servers side by side
in the same run (``bench/tracing.py``'s measurement): the ``tracing`` plugin off, loaded
without an exporter (goal >= 0.98x off), and exporting every span to a local OTLP receiver
(goal >= 0.8x off). ``--no-tracing`` skips it.

Run: ``.venv/bin/python bench/overhead.py [--seconds 2] [--rounds 5] [--check]``
(``--check`` exits 1 when a target is missed). ``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"/health/live": 0.75, "/api/plugins": 0.5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the two servers (each in its own process) ---------------------------------------------


def _quiet() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def serve_bare(port: int, threads: int, ready: Any) -> None:
    _quiet()
    from flask import Flask, Response, jsonify
    from waitress.server import create_server

    app = Flask("bare")
    plugins = [{"name": f"plugin{i}", "version": "0.1.0", "enabled": True} for i in range(6)]

    @app.get("/health/live")
    def live() -> Response:
        return Response(b'{"status":"ok"}\n', mimetype="application/json")

    @app.get("/api/plugins")
    def api_plugins() -> Response:
        return jsonify(plugins)

    server = create_server(app, host="127.0.0.1", port=port, threads=threads)
    ready.set()
    server.run()


def serve_soulspot(
    port: int,
    threads: int,
    data_dir: str,
    provider: dict[str, Any],
    ready: Any,
    disable: str = "",
) -> None:
    _quiet()
    from soulspot import create_app
    from soulspot.server import serve

    config = {
        "kernel": {"data_dir": data_dir},
        "plugins": {
            "spotify": {**provider, "redirect_uri": f"http://127.0.0.1:{port}/auth/callback"},
            # the bench is one client hammering the API: lift the per-IP limits
            "security": {"rate_limit_api": "1000000/minute", "rate_limit_auth": "1000/minute"},
        },
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    if disable:
        env["SOULSPOT_DISABLE_PLUGINS"] = disable
    empty = Path(data_dir).parent / "bench.toml"
    empty.write_text("# bench: defaults plus overrides\n")
    app = create_app(config, env=env, config_path=empty)
    ready.set()
    # exactly what `soulspot serve` runs, without the scheduler (a start-up backup would
    # compete with the measurement)
    serve(app, "127.0.0.1", port, threads, scheduler=False)


# --- load ----------------------------------------------------------------------------------


@dataclass
class Result:
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def load(port: int, path: str, seconds: float, clients: int, cookie: str = "") -> Result:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = threading.Event()
    headers = {"Cookie": cookie, "Accept": "application/json"} if cookie else {}

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = latencies[i]
        while not stop.is_set():
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            mine.append(time.perf_counter() - started)
        conn.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    flat = [x for chunk in latencies for x in chunk]
    return Result(len(flat), elapsed, flat, sum(errors))


def sign_in(port: int) -> str:
    """A real sign-in: /auth/login -> provider -> /auth/callback; returns the Cookie header."""
    import requests

    session = requests.Session()
    base = f"http://127.0.0.1:{port}"
    start = session.get(f"{base}/auth/login?next=/", allow_redirects=False, timeout=10)
    assert start.status_code == 302, start.text
    answer = session.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    done = session.get(answer.headers["Location"], allow_redirects=False, timeout=10)
    assert done.status_code in (302, 303), done.text
    cookie = "; ".join(
        f"{c.name}={c.value}" for c in session.cookies if c.domain in ("127.0.0.1", "")
    )
    assert "soulspot_session" in cookie, cookie
    check = session.get(f"{base}/api/plugins", headers={"Accept": "application/json"}, timeout=10)
    assert check.status_code == 200, check.text
    return cookie


def wait_port(port: int, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument(
        "--rounds", type=int, default=5, help="back-to-back pairs (the median ratio counts)"
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads, both apps")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--disable",
        default="",
        help="comma-separated plugins to disable (to see what each costs; /health/live only "
        "when 'spotify' is among them)",
    )
    parser.add_argument("--paths", default=",".join(TARGETS), help="which paths to measure")
    parser.add_argument(
        "--no-tracing",
        dest="tracing",
        action="store_false",
        help="skip the tracing off / idle / on servers",
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "tests"))
    from support.oauth_provider import LocalOAuthProvider

    ctx = mp.get_context("spawn")
    bare_port, soul_port = free_port(), free_port()
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalOAuthProvider(
            redirect_uris=[f"http://127.0.0.1:{soul_port}/auth/callback"]
        ) as provider,
    ):
        ready_bare, ready_soul = ctx.Event(), ctx.Event()
        procs = [
            ctx.Process(target=serve_bare, args=(bare_port, args.threads, ready_bare), daemon=True),
            ctx.Process(
                target=serve_soulspot,
                args=(
                    soul_port,
                    args.threads,
                    str(Path(tmp) / "data"),
                    provider.client_config(),
                    ready_soul,
                    args.disable,
                ),
                daemon=True,
            ),
        ]
        for p in procs:
            p.start()
        try:
            for event, port in ((ready_bare, bare_port), (ready_soul, soul_port)):
                if not event.wait(60):
                    raise RuntimeError("a server did not start")
                wait_port(port)
            paths = [p for p in args.paths.split(",") if p in TARGETS]
            signed_in = "/api/plugins" in paths and "spotify" not in args.disable.split(",")
            cookie = sign_in(soul_port) if signed_in else ""
            figures = run_rounds(args, bare_port, soul_port, cookie, paths)
        finally:
            for p in procs:
                p.terminate()
                p.join(5)

    tracing_figures = None
    if args.tracing:
        import tracing  # bench/tracing.py: it imports this module's load generator

        tracing_figures = tracing.measure(args.seconds, args.rounds, args.clients)
    if args.json:
        print(json.dumps({**figures, "tracing": tracing_figures}, indent=2))
    else:
        report(figures, as_json=False)
        if tracing_figures is not None:
            tracing.report(tracing_figures)
    missed = [path for path, f in figures.items() if f["ratio"] < TARGETS[path]]
    if tracing_figures is not None:
        missed += [f"tracing {mode}" for mode in tracing.missed(tracing_figures)]
    if args.check and missed:
        print(f"target missed for: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


def run_rounds(
    args: argparse.Namespace, bare_port: int, soul_port: int, cookie: str, paths: list[str]
) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    for path in paths:
        soul_cookie = cookie if path.startswith("/api/") else ""
        load(bare_port, path, 0.5, args.clients)  # warm up both
        load(soul_port, path, 0.5, args.clients, soul_cookie)
        bare_runs, soul_runs, pair_ratios = [], [], []
        for n in range(args.rounds):
            # back to back, order alternating: load on the machine drifts, pairs see the same
            if n % 2 == 0:
                bare_run = load(bare_port, path, args.seconds, args.clients)
                soul_run = load(soul_port, path, args.seconds, args.clients, soul_cookie)
            else:
                soul_run = load(soul_port, path, args.seconds, args.clients, soul_cookie)
                bare_run = load(bare_port, path, args.seconds, args.clients)
            bare_runs.append(bare_run)
            soul_runs.append(soul_run)
            pair_ratios.append(soul_run.rps / bare_run.rps)
        bare = max(bare_runs, key=lambda r: r.rps)
        soul = max(soul_runs, key=lambda r: r.rps)
        figures[path] = {
            "bare": {
                "rps": round(bare.rps, 1),
                "p50_ms": round(bare.pct(0.5), 2),
                "p99_ms": round(bare.pct(0.99), 2),
                "errors": bare.errors,
            },
            "soulspot": {
                "rps": round(soul.rps, 1),
                "p50_ms": round(soul.pct(0.5), 2),
                "p99_ms": round(soul.pct(0.99), 2),
                "errors": soul.errors,
            },
            # the figure the target applies to: median of back-to-back pairs
            "ratio": round(statistics.median(pair_ratios), 3),
            "ratio_best": round(soul.rps / bare.rps, 3),
            "pair_ratios": [round(r, 3) for r in pair_ratios],
            "target": TARGETS[path],
            "signed_in": bool(soul_cookie),
        }
    return figures


def report(figures: dict[str, dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{'path':<16} {'app':<9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for path, f in figures.items():
        for name in ("bare", "soulspot"):
            row = f[name]
            print(
                f"{path:<16} {name:<9} {row['rps']:>9.1f} {row['p50_ms']:>8.2f} "
                f"{row['p99_ms']:>8.2f} {row['errors']:>7}"
            )
        verdict = "ok" if f["ratio"] >= f["target"] else "BELOW TARGET"
        print(
            f"{path:<16} ratio {f['ratio']:.2f}x (median of {len(f['pair_ratios'])} pairs; "
            f"best/best {f['ratio_best']:.2f}x), "
            f"target >= {f['target']}x: {verdict}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
