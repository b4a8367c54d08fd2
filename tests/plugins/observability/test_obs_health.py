"""Health endpoints: live, ready, full; timeouts, caching, access; the Health page."""

from __future__ import annotations

import sqlite3
import sys
import threading
from typing import Any

from obs_support import OTHERS, Probe, Switch

from soulspot.api import maintenance
from soulspot.types import CheckResult, HealthCheck

NO_CACHE = {"plugins": {"observability": {"health_cache_seconds": 0}}}


def test_live_needs_no_checks_and_survives_maintenance(make_app: Any) -> None:
    switch = Switch()
    app = make_app(NO_CACHE, disable=OTHERS, plugins=[("probe", Probe([switch.check]))])
    client = app.test_client()
    assert app.url_map.bind("").match("/health/live")[0] == "observability.live"
    resp = client.get("/health/live", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert resp.status_code == 200 and resp.json == {"status": "ok"}
    switch.ok = False
    assert client.get("/health/live").status_code == 200
    assert switch.calls == 0  # liveness runs no check at all
    with app.app_context(), maintenance("restoring"):
        assert client.get("/health/live").status_code == 200
        assert client.get("/health/ready").status_code == 503


def test_ready_follows_critical_checks_and_ignores_warnings(make_app: Any) -> None:
    db = Switch("database")
    internet = Switch("spotify", critical=False)
    app = make_app(NO_CACHE, disable=OTHERS, plugins=[("probe", Probe([db.check, internet.check]))])
    client = app.test_client()
    ready = client.get("/health/ready", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert ready.status_code == 200
    assert ready.json["checks"] == {"data_dir": "ok", "database": "ok", "disk_space": "ok"}

    db.ok = False
    down = client.get("/health/ready")
    assert down.status_code == 503
    assert down.headers["X-Request-ID"]
    assert [f["name"] for f in down.json["failing"]] == ["database"]
    assert down.json["failing"][0]["message"] == "switched off"

    db.ok = True
    internet.ok = False  # an outage on the internet is no reason to restart us
    assert client.get("/health/ready").status_code == 200
    full = client.get("/health").json
    assert full["status"] == "fail" and full["ready"] is True
    spotify = next(c for c in full["checks"] if c["name"] == "spotify")
    assert spotify["critical"] is False and spotify["status"] == "fail"


def test_full_health_lists_checks_and_versions_for_loopback_only(make_app: Any) -> None:
    app = make_app(NO_CACHE, disable=OTHERS)
    client = app.test_client()
    body = client.get("/health").json
    assert body["status"] == "ok" and body["ready"] is True
    names = {c["name"] for c in body["checks"]}
    assert {"data_dir", "disk_space"} <= names
    for check in body["checks"]:
        assert {"status", "latency_ms", "message", "critical"} <= set(check)
    versions = body["versions"]
    assert versions["python"] == sys.version.split()[0]
    assert versions["sqlite"] == sqlite3.sqlite_version
    assert versions["flask"]
    assert "observability" in versions["plugins"]
    refused = client.get("/health", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert refused.status_code == 401
    assert "checks" not in (refused.json or {})


def test_a_hanging_check_times_out_and_is_not_started_twice(make_app: Any) -> None:
    release = threading.Event()
    started: list[int] = []

    def hang() -> CheckResult:
        started.append(1)
        release.wait(10)
        return CheckResult("ok")

    check = HealthCheck("hangs", hang, critical=True, timeout=0.2)
    app = make_app(NO_CACHE, disable=OTHERS, plugins=[("probe", Probe([check]))])
    client = app.test_client()
    try:
        first = client.get("/health/ready")
        assert first.status_code == 503
        assert "timed out" in first.json["failing"][0]["message"]
        second = client.get("/health/ready")
        assert second.status_code == 503
        assert "still running" in second.json["failing"][0]["message"]
        assert len(started) == 1
    finally:
        release.set()


def test_a_raising_check_is_a_failed_check(make_app: Any) -> None:
    def broken() -> CheckResult:
        raise OSError("disk on fire")

    app = make_app(
        NO_CACHE,
        disable=OTHERS,
        plugins=[("probe", Probe([HealthCheck("broken", broken, critical=True)]))],
    )
    resp = app.test_client().get("/health/ready")
    assert resp.status_code == 503
    assert resp.json["failing"][0]["message"] == "OSError: disk on fire"


def test_results_are_cached_against_probe_storms(make_app: Any) -> None:
    switch = Switch()
    app = make_app(
        {"plugins": {"observability": {"health_cache_seconds": 60}}},
        disable=OTHERS,
        plugins=[("probe", Probe([switch.check]))],
    )
    client = app.test_client()
    for _ in range(20):
        assert client.get("/health/ready").status_code == 200
    assert switch.calls == 1


def test_data_dir_not_writable_fails_readiness(make_app: Any, tmp_path: Any) -> None:
    import os

    data_dir = tmp_path / "ro"
    app = make_app(NO_CACHE, disable=OTHERS, data_dir=data_dir)
    client = app.test_client()
    assert client.get("/health/ready").status_code == 200
    if os.geteuid() == 0:  # root writes anywhere: make the directory vanish instead
        os.rename(data_dir, tmp_path / "gone")
    else:
        data_dir.chmod(0o500)
    try:
        resp = client.get("/health/ready")
        assert resp.status_code == 503
        assert "data_dir" in [f["name"] for f in resp.json["failing"]]
    finally:
        if os.geteuid() == 0:
            os.rename(tmp_path / "gone", data_dir)
        else:
            data_dir.chmod(0o700)
    assert client.get("/health/ready").status_code == 200


def test_low_disk_space_fails_readiness(make_app: Any) -> None:
    app = make_app(
        {"plugins": {"observability": {"health_cache_seconds": 0, "min_free_disk_mb": 10**9}}},
        disable=OTHERS,
    )
    resp = app.test_client().get("/health/ready")
    assert resp.status_code == 503
    assert resp.json["failing"][0]["name"] == "disk_space"


def test_health_page_nav_and_dashboard_panel(make_app: Any) -> None:
    switch = Switch("spotify", critical=False)
    switch.ok = False
    app = make_app(NO_CACHE, disable=OTHERS, plugins=[("probe", Probe([switch.check]))])
    client = app.test_client()
    page = client.get("/system/health")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in ("data_dir", "disk_space", "spotify", "switched off", "python", "sqlite"):
        assert text in html
    assert "Slow-request profiles" in html
    dashboard = client.get("/").get_data(as_text=True)
    assert 'href="/system/health"' in dashboard  # nav item and panel link
    assert "switched off" in dashboard
    assert "not ready" not in dashboard
    refused = client.get("/system/health", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert refused.status_code == 403  # no sign-in plugin: loopback only


def test_ready_turns_503_while_the_real_database_is_locked_and_200_after(make_app: Any) -> None:
    app = make_app(
        NO_CACHE, disable=("spotify", "backup", "security", "metrics", "library", "collection")
    )
    client = app.test_client()
    assert client.get("/health/ready").status_code == 200
    store = app.extensions["soulspot"].storage
    blocker = sqlite3.connect(store.path, timeout=0.1, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        down = client.get("/health/ready")
        assert down.status_code == 503
        failing = {f["name"]: f for f in down.json["failing"]}
        assert "database" in failing and "locked" in failing["database"]["message"]
        assert client.get("/health/live").status_code == 200  # liveness does not care
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert client.get("/health/ready").status_code == 200


def test_a_concurrent_probe_storm_runs_each_check_once(make_app: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from soulspot.testing import LiveServer

    gate = threading.Event()
    started = threading.Event()
    calls: list[int] = []

    def slow() -> CheckResult:
        calls.append(1)
        started.set()
        gate.wait(5)  # every probe arrives while the first run is still going
        return CheckResult("ok", "slow but fine")

    app = make_app(
        {"plugins": {"observability": {"health_cache_seconds": 30}}},
        disable=OTHERS,
        plugins=[("probe", Probe([HealthCheck("slow", slow, critical=True, timeout=5)]))],
    )
    with LiveServer(app, threads=8) as server, ThreadPoolExecutor(16) as pool:
        futures = [
            pool.submit(requests.get, server.url + "/health/ready", timeout=10) for _ in range(16)
        ]
        assert started.wait(5)  # the first probe is inside the check, the others queue
        gate.set()
        statuses = [f.result().status_code for f in futures]
    assert statuses == [200] * 16
    assert len(calls) == 1
