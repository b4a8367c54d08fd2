"""promtool accepts the alert rules, the scrape config and a live scrape of /metrics (every
default plugin enabled), and every metric the rules use exists in that scrape."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from soulspot import api
from soulspot.testing import LiveServer

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
SCRAPE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "soulspot-dashboard.json"
#: Series Prometheus makes itself (not exposed by the target).
SYNTHETIC = {"up"}
METRIC = re.compile(r"\b((?:soulspot|process|python)_[a-z0-9_]+)\b")


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool missing: run scripts/install-system-deps.sh (Debian: prometheus)"
    return path


def rule_metric_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.strip().startswith("#") or "description:" in line or "summary:" in line:
            continue
        names.update(METRIC.findall(line))
    return names


def scraped_names(text: str) -> set[str]:
    """Sample names plus declared families (``# TYPE``): a labelled counter nobody has
    incremented yet exposes no sample, but it exists."""
    found = set()
    for family in text_string_to_metric_families(text):
        found.add(family.name)
        if family.type == "counter":
            found.add(family.name + "_total")
        if family.type == "histogram":
            found.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
        found.update(sample.name for sample in family.samples)
    return found


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_accepts_the_scrape_config(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("t0ken")
    config = SCRAPE_CONFIG.read_text().replace(
        "/etc/prometheus/soulspot-metrics-token", str(token_file)
    )
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(RULES, tmp_path / "alerts.yml")
    result = subprocess.run(
        [promtool(), "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_live_scrape_passes_promtool_and_has_every_rule_metric(
    make_app: Any, tmp_path: Path
) -> None:
    # every default plugin, replication on (its metrics exist only with a replica)
    app = make_app({"plugins": {"replication": {"replica_url": f"file://{tmp_path}/replica"}}})
    with app.test_request_context("/"):
        api.audit("auth.sign_in", outcome="failed", reason="promtool test")
    with LiveServer(app) as server:
        for path in ("/health/live", "/favicon.ico", "/no/such/page"):
            requests.get(server.url + path, timeout=10)
        scrape = requests.get(server.url + "/metrics", timeout=10)
    assert scrape.status_code == 200
    result = subprocess.run(
        [promtool(), "check", "metrics"],
        input=scrape.text,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    exposed = scraped_names(scrape.text)
    used = rule_metric_names(RULES.read_text())
    assert {"soulspot_ready", "soulspot_http_request_total"} <= used
    missing = sorted(used - exposed - SYNTHETIC)
    assert not missing, f"alerts.yml uses metrics no scrape exposes: {missing}"

    # the dashboard may only chart what exists too
    panels = json.loads(DASHBOARD.read_text())["panels"]
    charted = {n for p in panels for t in p["targets"] for n in METRIC.findall(t["expr"])}
    missing = sorted(charted - exposed)
    assert not missing, f"the Grafana dashboard charts metrics no scrape exposes: {missing}"

    # counters moved for the requests just made
    assert 'soulspot_http_request_total{method="GET",status="200"}' in scrape.text
    assert 'endpoint="unmatched"' in scrape.text
