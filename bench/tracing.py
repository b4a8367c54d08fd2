"""What tracing costs a signed-in API call, each figure next to its baseline in the same run.

Three SoulSpot servers, each in its own process and served exactly as ``soulspot serve``
serves (``soulspot.server.serve``, scheduler off), all signed in through the local OAuth
provider of tests/support and loaded with the same client (``bench/overhead.py``'s):

- **off**: the ``tracing`` plugin disabled (not even loaded) — the baseline;
- **idle**: the plugin loaded with no exporter configured — a default install
  (goal: >= 0.98x off, no measurable cost);
- **on**: exporting every span (``sample_ratio = 1.0``) over OTLP/HTTP to a real receiver on
  127.0.0.1 (tests/support/otlp_receiver.py) (goal: >= 0.8x off);
- **sampled**: the same with ``sample_ratio = 0.1`` (no goal: what an operator can trade).

Ratios are medians over rounds in which the three run back to back in rotating order.
Run: ``.venv/bin/python bench/tracing.py [--seconds 2] [--rounds 5] [--check]``;
``bench/overhead.py`` runs the same measurement after its own (issue 20 names it there).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from overhead import free_port, load, sign_in, wait_port  # noqa: E402

GOALS = {"idle": 0.98, "on": 0.8}
SAMPLED = 0.1
MODES = ("off", "idle", "on", "sampled")
PATH = "/api/plugins"


def serve(
    mode: str, port: int, data_dir: str, provider: dict[str, Any], endpoint: str, ready: Any
) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    from soulspot import create_app
    from soulspot.server import serve as serve_app

    plugins: dict[str, Any] = {
        "spotify": {**provider, "redirect_uri": f"http://127.0.0.1:{port}/auth/callback"},
        "security": {"rate_limit_api": "1000000/minute", "rate_limit_auth": "1000/minute"},
    }
    if mode in ("on", "sampled"):
        ratio = 1.0 if mode == "on" else SAMPLED
        plugins["tracing"] = {"exporter": "otlp-http", "endpoint": endpoint, "sample_ratio": ratio}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOULSPOT", "OTEL_"))}
    if mode == "off":
        env["SOULSPOT_DISABLE_PLUGINS"] = "tracing"
    config_path = Path(data_dir).parent / f"bench-{mode}.toml"
    config_path.write_text("# bench: defaults plus overrides\n")
    app = create_app(
        {"kernel": {"data_dir": data_dir}, "plugins": plugins}, env=env, config_path=config_path
    )
    ready.set()
    serve_app(app, "127.0.0.1", port, 8, scheduler=False)


def measure(seconds: float, rounds: int, clients: int) -> dict[str, Any]:
    """Serve off / idle / on side by side and measure them in rotating rounds."""
    from support.oauth_provider import LocalOAuthProvider
    from support.otlp_receiver import OTLPReceiver

    ctx = mp.get_context("spawn")
    ports = {mode: free_port() for mode in MODES}
    with (
        tempfile.TemporaryDirectory() as tmp,
        OTLPReceiver() as receiver,
        LocalOAuthProvider(
            redirect_uris=[f"http://127.0.0.1:{p}/auth/callback" for p in ports.values()]
        ) as provider,
    ):
        procs, events = [], []
        for mode in MODES:
            ready = ctx.Event()
            proc = ctx.Process(
                target=serve,
                args=(
                    mode,
                    ports[mode],
                    str(Path(tmp) / mode),
                    provider.client_config(),
                    receiver.url,
                    ready,
                ),
                daemon=True,
            )
            proc.start()
            procs.append(proc)
            events.append(ready)
        try:
            for ready, mode in zip(events, MODES, strict=True):
                if not ready.wait(60):
                    raise RuntimeError(f"the {mode} server did not start")
                wait_port(ports[mode])
            cookies = {mode: sign_in(ports[mode]) for mode in MODES}
            for mode in MODES:
                load(ports[mode], PATH, 0.5, clients, cookies[mode])  # warm up
            runs: dict[str, list[float]] = {mode: [] for mode in MODES}
            ratios: dict[str, list[float]] = {mode: [] for mode in MODES if mode != "off"}
            errors = 0
            for n in range(rounds):
                order = MODES[n % len(MODES) :] + MODES[: n % len(MODES)]
                rps = {}
                for mode in order:
                    result = load(ports[mode], PATH, seconds, clients, cookies[mode])
                    rps[mode] = result.rps
                    errors += result.errors
                    runs[mode].append(result.rps)
                for mode in ratios:
                    ratios[mode].append(rps[mode] / rps["off"])
            spans = len(receiver.spans)
        finally:
            for proc in procs:
                proc.terminate()
                proc.join(5)

    return {
        "path": PATH,
        "rps_best": {mode: round(max(values), 1) for mode, values in runs.items()},
        "ratio": {mode: round(statistics.median(v), 3) for mode, v in ratios.items()},
        "pair_ratios": {mode: [round(r, 3) for r in v] for mode, v in ratios.items()},
        "goals": GOALS,
        "errors": errors,
        "spans_received": spans,
    }


def report(figures: dict[str, Any]) -> None:
    rounds = len(figures["pair_ratios"]["on"])
    print(
        f"{PATH} req/s (best round): "
        + ", ".join(f"{m} {figures['rps_best'][m]:.1f}" for m in MODES)
    )
    for mode, ratio in figures["ratio"].items():
        goal = GOALS.get(mode)
        if goal is None:
            verdict = f"sample_ratio {SAMPLED}, no goal"
        else:
            verdict = f"goal >= {goal}x: " + ("ok" if ratio >= goal else "BELOW GOAL")
        print(f"tracing {mode:<7} / off: {ratio:.3f}x (median of {rounds}), {verdict}")
    print(
        f"spans received by the local OTLP receiver: {figures['spans_received']}; "
        f"errors: {figures['errors']}"
    )


def missed(figures: dict[str, Any]) -> list[str]:
    """The configurations below their goal (a run with errors misses them all)."""
    if figures["errors"]:
        return list(GOALS)
    return [m for m, g in GOALS.items() if figures["ratio"][m] < g]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    figures = measure(args.seconds, args.rounds, args.clients)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        report(figures)
    return 1 if args.check and missed(figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
