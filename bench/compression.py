"""Response compression (``[kernel] compress``), side by side in one run: the size of typical
text responses uncompressed, gzip and brotli (what flask-compress sends to a browser that
accepts them), and what compressing costs per request (the same requests with ``compress =
true`` and ``false``).

Both apps are built in this process and asked through Flask's test client, so network time
does not hide the CPU cost. Sign-in is off (the kernel then serves loopback only, which the
test client is) so that pages need no session; the pages are the same templates.

Run: ``.venv/bin/python bench/compression.py [--requests 300] [--json]``. ``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

PATHS = [
    "/",
    "/plugins",
    "/audit",
    "/system/health",
    "/api/plugins",
    "/api/openapi.json",
    "/metrics",
    "/static/soulspot.css",
    "/static/soulspot.js",
]


def body(resp: Any) -> bytes:
    return b"".join(resp.response) if resp.is_streamed else bytes(resp.get_data())


def sizes(app: Any) -> list[dict[str, Any]]:
    client = app.test_client()
    rows = []
    for path in PATHS:
        raw = client.get(path, headers={"Accept-Encoding": "identity"})
        if raw.status_code != 200:
            continue
        row: dict[str, Any] = {"path": path, "type": raw.mimetype, "raw": len(body(raw))}
        for algo in ("gzip", "br"):
            resp = client.get(path, headers={"Accept-Encoding": algo})
            row[algo] = len(body(resp)) if resp.headers.get("Content-Encoding") == algo else None
        rows.append(row)
    return rows


def timing(on: Any, off: Any, path: str, n: int) -> tuple[float, float]:
    """Median microseconds per request with compression on and off, measured in alternation
    (one of each, ``n`` times) so that machine noise hits both alike."""
    clients = (on.test_client(), off.test_client())
    headers = {"Accept-Encoding": "gzip, deflate, br, zstd"}
    for client in clients:
        for _ in range(20):
            body(client.get(path, headers=headers))
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(n):
        for client, bucket in zip(clients, samples, strict=True):
            start = time.perf_counter()
            body(client.get(path, headers=headers))
            bucket.append(time.perf_counter() - start)
    return statistics.median(samples[0]) * 1e6, statistics.median(samples[1]) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="per timing (300)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()

    from soulspot.testing import build_app

    with tempfile.TemporaryDirectory(prefix="soulspot-compress-") as tmp:
        on = build_app(Path(tmp) / "on", disable=["spotify", "library", "collection"])
        off = build_app(
            Path(tmp) / "off",
            {"kernel": {"compress": False}},
            disable=["spotify", "library", "collection"],
        )
        logging.disable(logging.INFO)  # the apps' access lines would drown the table
        rows = sizes(on)
        cost = {}
        for path in ("/", "/api/openapi.json"):
            on_us, off_us = timing(on, off, path, args.requests)
            cost[path] = {"on_us": on_us, "off_us": off_us}
    if args.json:
        print(json.dumps({"sizes": rows, "cost": cost}, indent=2))
        return
    print(f"{'response':22} {'type':24} {'raw':>9} {'gzip':>9} {'br':>9} {'br/raw':>7}")
    for r in rows:
        gz = f"{r['gzip']:,}" if r["gzip"] else "-"
        br = f"{r['br']:,}" if r["br"] else "-"
        ratio = f"{r['br'] / r['raw']:.2f}" if r["br"] else "-"
        print(f"{r['path']:22} {r['type']:24} {r['raw']:>9,} {gz:>9} {br:>9} {ratio:>7}")
    for path, c in cost.items():
        print(
            f"time per request {path}: compress on {c['on_us']:.0f} us, off {c['off_us']:.0f} us "
            f"(ratio {c['on_us'] / c['off_us']:.2f}x)"
        )


if __name__ == "__main__":
    main()
