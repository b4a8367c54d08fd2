"""RequestMetrics records prometheus-flask-exporter's default request metrics with lean hooks:
the same metric families, labels and counts as the library's own hooks, request for request."""

from __future__ import annotations

from flask import Flask, Request
from prometheus_client import CollectorRegistry
from prometheus_flask_exporter import PrometheusMetrics

from soulspot_metrics.exporter import RequestMetrics


def endpoint(req: Request) -> str:
    rule = req.url_rule
    return rule.rule if rule is not None else "unmatched"


def _app(kind: type[PrometheusMetrics]) -> tuple[Flask, CollectorRegistry]:
    app = Flask(f"metrics-{kind.__name__}")
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/items/<int:item>")
    def item(item: int) -> dict[str, int]:
        return {"item": item}

    @app.post("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    @app.get("/health/live")
    def live() -> str:
        return "ok"

    registry = CollectorRegistry()
    kind(
        app,
        path=None,
        registry=registry,
        defaults_prefix="soulspot",
        group_by=endpoint,
        buckets=(0.01, 0.1, 1.0),
        excluded_paths=["^/health/live$"],
    )
    return app, registry


def _requests(app: Flask) -> None:
    client = app.test_client()
    for n in (1, 2, 3):
        assert client.get(f"/items/{n}").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert client.post("/boom").status_code == 500
    assert client.get("/items/1", query_string={"x": "1"}).status_code == 200
    assert client.get("/health/live").status_code == 200
    assert client.delete("/items/1").status_code == 405


def _counts(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every request-metric sample except the timing-dependent ones (sums, buckets)."""
    out = {}
    for family in registry.collect():
        if "http_request" not in family.name:
            continue
        for sample in family.samples:
            if sample.name.endswith(("_sum", "_bucket", "_created")):
                continue
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_same_families_labels_and_counts_as_the_librarys_own_hooks() -> None:
    theirs_app, theirs = _app(PrometheusMetrics)
    ours_app, ours = _app(RequestMetrics)
    _requests(theirs_app)
    _requests(ours_app)
    expected = _counts(theirs)
    assert _counts(ours) == expected
    # and what that is: the route template, never the raw path; 404s as "unmatched";
    # the exception counted once as a 500; the probe not at all
    duration = "soulspot_http_request_duration_seconds_count"
    assert (
        expected[
            (duration, (("endpoint", "/items/<int:item>"), ("method", "GET"), ("status", "200")))
        ]
        == 4
    )
    assert (
        expected[(duration, (("endpoint", "unmatched"), ("method", "GET"), ("status", "404")))] == 1
    )
    assert expected[(duration, (("endpoint", "/boom"), ("method", "POST"), ("status", "500")))] == 1
    assert (
        expected[
            ("soulspot_http_request_exceptions_total", (("method", "POST"), ("status", "500")))
        ]
        == 1
    )
    assert not [k for k in expected if ("endpoint", "/health/live") in k[1]]
    families = {f.name for f in ours.collect()}
    assert "soulspot_exporter_info" in families
