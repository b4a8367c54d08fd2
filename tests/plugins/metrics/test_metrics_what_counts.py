"""What the request metrics count: every answer the app gives, refusals included (429 from
a rate limit, 403 from the CSRF check), labelled by route template; never a scrape of
``/metrics`` itself, a probe or a health check."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

#: auth off: loopback requests reach views without signing in
NO_AUTH = ["spotify", "library", "collection"]
TOTAL = "soulspot_http_request_total"
DURATION = "soulspot_http_request_duration_seconds_count"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name in (TOTAL, DURATION)
    }


def _scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    return _samples(resp.get_data(as_text=True))


def test_a_second_scrape_is_not_counted(make_app: Any) -> None:
    client = make_app(disable=NO_AUTH).test_client()
    assert client.get("/api/plugins").status_code == 200
    first = _scrape(client)
    second = _scrape(client)
    assert first == second  # the first scrape did not add to what the second one sees
    assert first[(TOTAL, (("method", "GET"), ("status", "200")))] == 1
    assert not [k for k in first if ("endpoint", "/metrics") in k[1]]


def test_probes_and_health_checks_are_not_counted(make_app: Any) -> None:
    client = make_app(disable=NO_AUTH).test_client()
    for path in ("/health/live", "/health/ready", "/health"):
        assert client.get(path).status_code in (200, 503), path
    assert _scrape(client) == {}


def test_a_429_and_a_csrf_403_are_counted(make_app: Any) -> None:
    app = make_app({"plugins": {"security": {"rate_limit_api": "2/minute"}}}, disable=NO_AUTH)
    client = app.test_client()
    assert [client.get("/api/plugins").status_code for _ in range(3)] == [200, 200, 429]
    refused = client.post("/api/audit", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    got = _scrape(client)
    assert got[(TOTAL, (("method", "GET"), ("status", "200")))] == 2
    assert got[(TOTAL, (("method", "GET"), ("status", "429")))] == 1
    assert got[(TOTAL, (("method", "POST"), ("status", "403")))] == 1
    labels = (("endpoint", "/api/plugins"), ("method", "GET"), ("status", "429"))
    assert got[(DURATION, labels)] == 1
