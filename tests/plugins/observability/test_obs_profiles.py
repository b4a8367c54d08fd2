"""Slow-request profiles: written for slow requests only, bounded, listed for the owner."""

from __future__ import annotations

from typing import Any

from obs_support import OTHERS, Probe


def test_slow_requests_are_profiled_bounded_and_listed(make_app: Any, tmp_path: Any) -> None:
    data_dir = tmp_path / "prof"
    app = make_app(
        {"plugins": {"observability": {"profile_slow_ms": 40, "profile_keep": 2}}},
        disable=OTHERS,
        plugins=[("probe", Probe())],
        data_dir=data_dir,
    )
    client = app.test_client()
    folder = data_dir / "profiles"
    assert client.get("/health/live").status_code == 200  # fast: no report
    assert not folder.exists() or not list(folder.iterdir())
    for n in range(4):
        resp = client.get("/api/probe/slow", headers={"X-Request-ID": f"slow-{n}"})
        assert resp.status_code == 200
    reports = sorted(p.name for p in folder.iterdir())
    assert len(reports) == 2  # bounded: the oldest were deleted
    assert all("probe.slow" in name for name in reports)
    assert (folder / reports[-1]).read_text().lstrip().lower().startswith("<!doctype html")

    page = client.get("/system/health").get_data(as_text=True)
    for name in reports:
        assert name in page
    download = client.get(f"/system/profiles/{reports[-1]}")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    assert client.get("/system/profiles/..%2Fkeys%2Fsecret_key").status_code == 404
    assert client.get("/system/profiles/nothing.html").status_code == 404


def test_profiling_off_by_default(make_app: Any, tmp_path: Any) -> None:
    data_dir = tmp_path / "noprof"
    app = make_app(disable=OTHERS, plugins=[("probe", Probe())], data_dir=data_dir)
    assert app.test_client().get("/api/probe/slow").status_code == 200
    assert not (data_dir / "profiles").exists()
    assert "Profiling is off" in app.test_client().get("/system/health").get_data(as_text=True)
