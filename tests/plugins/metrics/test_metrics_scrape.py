"""/metrics: per-app registry, route-template labels, hook-fed counters, access control."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Flask
from prometheus_client import Counter
from prometheus_client.parser import text_string_to_metric_families

from soulspot import api, hookimpl
from soulspot.testing import run_jobs
from soulspot.types import Job, PluginManifest

OTHERS = ("sqlite", "spotify", "security", "backup", "library", "collection")
OUTSIDE = {"REMOTE_ADDR": "192.0.2.44"}


class MetricsProbe:
    """A plugin registered in code: a parametrised route, a failing route, a metric, jobs."""

    def __init__(self) -> None:
        self.things = Counter("soulspot_probe_things_total", "Things the probe did", registry=None)

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest()

    @hookimpl
    def metrics(self, app: Flask) -> Iterable[Any]:
        return [self.things]

    @hookimpl
    def jobs(self, app: Flask) -> Iterable[Job]:
        def fail() -> None:
            raise RuntimeError("job broke")

        return [Job("probe-ok", lambda: None, "interval"), Job("probe-fail", fail, "interval")]

    @hookimpl
    def register_blueprints(self, app: Flask) -> Iterable[Blueprint]:
        bp = Blueprint("mprobe", __name__)

        @bp.get("/api/mprobe/<int:n>")
        def item(n: int) -> dict[str, int]:
            self.things.inc()
            return {"n": n}

        @bp.get("/api/mprobe/boom")
        def boom() -> str:
            raise KeyError("nope")

        return [bp]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_move_per_app_and_use_route_templates(make_app: Any) -> None:
    app = make_app(disable=OTHERS, plugins=[("mprobe", MetricsProbe())])
    other = make_app(disable=OTHERS, plugins=[("mprobe", MetricsProbe())])
    client = app.test_client()
    for n in (1, 2, 3):
        assert client.get(f"/api/mprobe/{n}").status_code == 200
    for path in ("/no/such/1", "/no/such/2"):
        assert client.get(path).status_code == 404
    assert client.get("/api/mprobe/boom").status_code == 500
    assert client.get("/health/live").status_code == 200
    text = client.get("/metrics").get_data(as_text=True)

    count = "soulspot_http_request_duration_seconds_count"
    assert value(text, count, endpoint="/api/mprobe/<int:n>", method="GET", status="200") == 3
    assert value(text, count, endpoint="unmatched", method="GET", status="404") == 2
    assert not any("/no/such" in line or "/api/mprobe/1" in line for line in text.splitlines())
    assert value(text, "soulspot_http_request_total", method="GET", status="500") == 1
    assert (
        value(
            text,
            "soulspot_unhandled_exceptions_total",
            endpoint="/api/mprobe/boom",
            exception="KeyError",
        )
        == 1
    )
    assert value(text, "soulspot_probe_things_total") == 3  # from the metrics hook
    assert value(text, "soulspot_ready") == 1
    assert value(text, "soulspot_data_dir_free_bytes") > 0
    assert "process_resident_memory_bytes" in text and "python_info" in text
    assert 'endpoint="/metrics"' not in text  # scrapes are not counted as traffic
    assert 'endpoint="/health/live"' not in text  # neither are liveness probes

    fresh = other.test_client().get("/metrics").get_data(as_text=True)
    assert value(fresh, "soulspot_http_request_total", method="GET", status="200") == 0
    assert value(fresh, "soulspot_probe_things_total") == 0


def test_audit_events_and_job_runs_are_counted(make_app: Any) -> None:
    app = make_app(disable=OTHERS, plugins=[("mprobe", MetricsProbe())])
    with app.test_request_context("/"):
        api.audit("auth.sign_in", outcome="failed", reason="test")
        api.audit("auth.sign_in", outcome="failed", reason="test")
        api.audit("auth.sign_out")
    run_jobs(app, "probe-ok")
    try:
        run_jobs(app, "probe-fail")
    except RuntimeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("the job should have raised")
    text = app.test_client().get("/metrics").get_data(as_text=True)
    audit = "soulspot_audit_events_total"
    assert value(text, audit, event="auth.sign_in", outcome="failed") == 2
    assert value(text, audit, event="auth.sign_out", outcome="ok") == 1
    runs = "soulspot_job_runs_total"
    assert value(text, runs, job="probe-ok", outcome="ok") == 1
    assert value(text, runs, job="probe-fail", outcome="failed") == 1
    assert value(text, "soulspot_job_duration_seconds_count", job="probe-ok") == 1


def test_access_is_loopback_or_bearer_token(make_app: Any) -> None:
    token = "scrape-token-8d7f6e5a"
    app = make_app({"plugins": {"metrics": {"token": token}}}, disable=OTHERS)
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # loopback
    refused = client.get("/metrics", environ_base=OUTSIDE)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert "soulspot_" not in refused.get_data(as_text=True)
    wrong = client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": "Bearer not-it"})
    assert wrong.status_code == 401
    ok = client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and "soulspot_http_request_total" in ok.get_data(as_text=True)
    assert ok.headers["Content-Type"].startswith("text/plain; version=0.0.4")

    no_token = make_app(disable=OTHERS).test_client()
    assert no_token.get("/metrics", environ_base=OUTSIDE).status_code == 401
    assert (
        no_token.get(
            "/metrics", environ_base=OUTSIDE, headers={"Authorization": "Bearer "}
        ).status_code
        == 401
    )


def test_guessing_the_token_is_refused_after_ten_tries_and_the_right_one_never_is(
    make_app: Any,
) -> None:
    """/metrics is exempt from the rate limits (scrapes come every few seconds), so wrong
    tokens are counted on their own: 10 a minute per address, then 429 (issue 15 review)."""
    token = "scrape-token-8d7f6e5a"
    client = make_app({"plugins": {"metrics": {"token": token}}}, disable=OTHERS).test_client()

    def scrape(address: str, bearer: str) -> Any:
        headers = {"Authorization": f"Bearer {bearer}"}
        return client.get("/metrics", environ_base={"REMOTE_ADDR": address}, headers=headers)

    assert [scrape("192.0.2.50", f"guess-{n}").status_code for n in range(10)] == [401] * 10
    refused = scrape("192.0.2.50", "guess-10")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "soulspot_" not in refused.get_data(as_text=True)
    assert scrape("192.0.2.50", token).status_code == 200  # the right token: never refused
    assert scrape("192.0.2.51", "guess").status_code == 401  # another address: its own count
    assert client.get("/metrics").status_code == 200  # loopback needs no token


def test_a_short_token_is_refused_by_config_check(run_cli: Any) -> None:
    result = run_cli(["config", "check"], config={"plugins": {"metrics": {"token": "abc"}}})
    assert result.exit_code == 2
    assert "plugins.metrics.token" in result.output and "at least 16 characters" in result.output
    assert "abc" not in result.output  # a secret is never echoed, even a bad one


def test_disabling_metrics_keeps_logs(make_app: Any, capsys: Any) -> None:
    import json

    app = make_app(disable=(*OTHERS, "metrics"))
    client = app.test_client()
    capsys.readouterr()
    assert client.get("/metrics").status_code == 404
    assert client.get("/health/live").status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert any(e["logger"] == "soulspot.access" and e["path"] == "/health/live" for e in lines)
    logging.getLogger("soulspot.metrics.test").info("still logging")
    assert "still logging" in capsys.readouterr().out
