"""Issue 15 item 2: refused cross-site requests no longer write one audit row each (or one per
distinct Origin): the first of each kind per client and window is audited, the rest counted
in a summary row, audit writes are capped per client and in all, and refused requests are
rate-limited on every path."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from security_support import NO_AUTH

from soulspot.testing import run_jobs


def _audits(app: Flask, name: str) -> list[Any]:
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection():
        return store.audit.query(event=name, limit=1000)


def _forge(client: Any, n: int, path: str = "/backups/create", addr: str = "198.51.100.4") -> list:
    """What a hostile page does: POSTs from a new Origin each time (a page can make its
    requests look like they come from any of many origins: sandboxed iframes, subdomains)."""
    return [
        client.post(
            path,
            headers={"Origin": f"https://a{i}.evil.example"},
            environ_base={"REMOTE_ADDR": addr},
        )
        for i in range(n)
    ]


def test_a_flood_of_forged_requests_writes_one_row_and_then_gets_429(make_app: Any) -> None:
    """Before: 200 forged POSTs with distinct Origins wrote 200 audit rows."""
    app = make_app(disable=NO_AUTH)
    client = app.test_client()
    answers = _forge(client, 200)
    statuses = [r.status_code for r in answers]
    assert statuses[:60] == [403] * 60  # refused_per_window = 60 by default
    assert set(statuses[60:]) == {429}
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    rows = _audits(app, "security.csrf_rejected")
    assert len(rows) == 1
    assert rows[0].details["origin"] == "https://a0.evil.example"
    # the page itself (same client, same-origin) is not locked out by this
    own = client.get("/", environ_base={"REMOTE_ADDR": "198.51.100.4"})
    assert own.status_code in (200, 403)  # 403 only because no auth = this machine only
    assert own.status_code != 429


def test_the_rest_of_the_window_is_one_summary_row(make_app: Any) -> None:
    app = make_app(
        {"plugins": {"security": {"audit_window_seconds": 1, "refused_per_window": 1000}}},
        disable=NO_AUTH,
    )
    client = app.test_client()
    started = time.monotonic()
    assert {r.status_code for r in _forge(client, 150)} == {403}
    windows = int(time.monotonic() - started) + 2  # the flood may span a window boundary
    deadline = time.monotonic() + 10
    counted = 0
    while counted < 150 and time.monotonic() < deadline:
        run_jobs(app, "security.audit_summaries")  # what the scheduler runs every minute
        rows = _audits(app, "security.csrf_rejected")
        counted = sum(e.details.get("repeats", 1) for e in rows)
    assert counted == 150  # every refusal is accounted for: first rows + summaries
    summaries = [e for e in rows if e.details.get("summary")]
    assert summaries and len(rows) <= 2 * windows  # a first row and a summary per window
    details = summaries[-1].details  # the oldest summary: the first window
    assert details["reason"] == "foreign-origin" and details["repeats"] >= 1
    assert details["client"] == "198.51.100.4" and details["window_seconds"] == 1
    assert 1 <= len(details["origins"]) <= 5 and details["paths"] == ["/backups/create"]
    assert all(e.outcome == "refused" for e in rows)


def test_audit_rows_are_capped_per_client_and_in_all(make_app: Any) -> None:
    app = make_app(
        {"plugins": {"security": {"audit_max_per_client": 2, "audit_max_per_window": 3}}},
        disable=NO_AUTH,
    )
    client = app.test_client()
    kinds = [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {},  # missing-token
    ]
    for headers in kinds:
        client.post("/backups/create", headers=headers, environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert len(_audits(app, "security.csrf_rejected")) == 2  # per client
    for addr in ("192.0.2.2", "192.0.2.3"):
        client.post("/backups/create", headers=kinds[0], environ_base={"REMOTE_ADDR": addr})
    assert len(_audits(app, "security.csrf_rejected")) == 3  # in all


def test_refusals_are_limited_on_every_path_and_ipv6_per_64(make_app: Any) -> None:
    app = make_app({"plugins": {"security": {"refused_per_window": 3}}}, disable=NO_AUTH)
    client = app.test_client()
    # not under /auth or /api, and no limit configured for these pages
    for path in ("/backups/create", "/security/nothing-here", "/"):
        _forge(client, 1, path, addr="2001:db8:1:2::1")
    hopped = _forge(client, 2, "/backups/create", addr="2001:db8:1:2::ffff")
    assert [r.status_code for r in hopped] == [429, 429]  # same /64: same budget
    other = _forge(client, 1, "/backups/create", addr="2001:db8:1:3::1")
    assert other[0].status_code == 403
