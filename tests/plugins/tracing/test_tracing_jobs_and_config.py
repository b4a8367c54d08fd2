"""Jobs, CLI commands and migrations as spans; the exporter being down or slow; the default
install tracing nothing; OTEL_* variables and our config, and what `config show` says."""

from __future__ import annotations

import threading
from typing import Any

from conftest import flush
from soulspot import api, hookimpl
from soulspot.testing import run_jobs
from soulspot.types import Job, PluginManifest
from support.otlp_receiver import OTLPReceiver


class Worker:
    """A plugin with one scheduled job that does a unit of work with an inner span."""

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(provides=())

    @hookimpl
    def jobs(self, app: Any) -> list[Job]:
        def work() -> None:
            with api.span("worker step", **{"soulspot.items": 3}):
                api.storage().settings.set("worker.ran", True)

        return [Job("worker", work, trigger="interval", trigger_args={"hours": 1})]


def test_a_job_is_a_trace_with_its_steps_and_sql(traced_app: Any, receiver: OTLPReceiver) -> None:
    app = traced_app(plugins=[("worker", Worker())])
    run_jobs(app, "worker")
    flush(app)
    spans = {s.name: s for s in receiver.spans}
    job, step = spans["job worker"], spans["worker step"]
    assert not job.parent_span_id and job.attributes["soulspot.job"] == "worker"
    assert job.attributes["soulspot.run_id"].startswith("job-worker-")
    assert step.parent_span_id == job.span_id and step.attributes["soulspot.items"] == 3
    sql = [s for s in receiver.spans if s.parent_span_id == step.span_id]
    assert any("settings" in s.attributes.get("db.statement", "") for s in sql)


def test_startup_migrations_are_spans_of_one_startup_trace(
    traced_app: Any, receiver: OTLPReceiver
) -> None:
    app = traced_app()
    flush(app)
    startup = next(s for s in receiver.spans if s.name == "soulspot startup")
    migrations = [s for s in receiver.spans if s.name == "migration upgrade"]
    assert {m.attributes["soulspot.plugin"] for m in migrations} >= {"sqlite", "spotify"}
    assert all(m.trace_id == startup.trace_id for m in migrations)


def test_a_cli_command_is_a_span(run_cli: Any, receiver: OTLPReceiver) -> None:
    config = {"plugins": {"tracing": {"exporter": "otlp-http", "endpoint": receiver.url}}}
    result = run_cli(["backup", "create"], config=config)
    assert result.exit_code == 0, result.output
    spans = receiver.wait_for(lambda got: any(s.name == "soulspot backup create" for s in got))
    command = next(s for s in spans if s.name == "soulspot backup create")
    inside = [s for s in spans if s.trace_id == command.trace_id and s is not command]
    assert inside, "the backup's work (SQL) is inside the command's trace"


def test_exporter_down_or_stuck_never_holds_a_request(make_app: Any) -> None:
    """A receiver that never answers: requests still answer, spans past the queue are
    dropped and counted on /metrics."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    release = threading.Event()

    class Stuck(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            release.wait(30)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stuck)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        app = make_app(
            {"plugins": {"tracing": {"exporter": "otlp-http", "endpoint": url, "queue_size": 16}}}
        )
        client = app.test_client()
        statuses = {client.get("/health/live").status_code for _ in range(60)}
        assert statuses == {200}
        metrics = client.get("/metrics").get_data(as_text=True)
        dropped = next(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("soulspot_tracing_spans_dropped_total")
        )
        assert dropped > 0
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_a_default_install_traces_nothing(make_app: Any) -> None:
    app = make_app()
    client = app.test_client()
    assert client.get("/health/live").status_code == 200
    assert "soulspot_tracing" not in client.get("/metrics").get_data(as_text=True)
    with app.app_context():
        assert api.hook(app).start_span(app=app, name="x", attributes={}) is None
        with api.span("nothing happens"):
            pass


def test_otel_variables_apply_and_our_config_wins(
    make_app: Any, receiver: OTLPReceiver, monkeypatch: Any
) -> None:
    # the SDK reads its variables from the process environment
    for name, value in {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.url,
        "OTEL_SERVICE_NAME": "from-otel-env",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=home",
    }.items():
        monkeypatch.setenv(name, value)
    app = make_app()
    app.test_client().get("/health/live")
    flush(app)
    span = next(s for s in receiver.spans if s.name == "GET /health/live")
    assert span.resource["service.name"] == "from-otel-env"
    assert span.resource["deployment.environment"] == "home"

    mine = make_app({"plugins": {"tracing": {"service_name": "ours"}}})
    mine.test_client().get("/health/ready")
    flush(mine)
    ready = next(s for s in receiver.spans if s.name == "GET /health/ready")
    assert ready.resource["service.name"] == "ours"


def test_config_show_says_which_values_come_from_otel_variables(run_cli: Any) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
        "OTEL_SERVICE_NAME": "from-env",
        "SOULSPOT__TRACING__SERVICE_NAME": "ours",
        "OTEL_BSP_MAX_QUEUE_SIZE": "4096",
    }
    result = run_cli(["config", "show"], env=env)
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "env OTEL_EXPORTER_OTLP_ENDPOINT (OpenTelemetry SDK)" in rows["plugins.tracing.endpoint"]
    assert "SOULSPOT__TRACING__SERVICE_NAME" in rows["plugins.tracing.service_name"]
    assert "OTEL_SERVICE_NAME" not in rows["plugins.tracing.service_name"]
    assert "env OTEL_BSP_MAX_QUEUE_SIZE (OpenTelemetry SDK)" in rows["plugins.tracing.queue_size"]


def test_spans_are_exported_in_batches_as_the_otel_bsp_variables_say(
    traced_app: Any, receiver: OTLPReceiver, monkeypatch: Any
) -> None:
    """A full batch goes out at once; the rest waits for the schedule delay (a minute here)
    or a flush: an export per request would cost the server more than the request."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    def sizes() -> list[int]:
        """Batch sizes from the first batch holding a request's span on: building the app
        flushes its start-up spans (migrations) as it goes, which is not under test here."""
        counts, requests_seen = [], False
        for body in list(receiver.raw):
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            scopes = [s for r in request.resource_spans for s in r.scope_spans]
            names = [span.name for s in scopes for span in s.spans]
            requests_seen = requests_seen or any(n.startswith("GET ") for n in names)
            if requests_seen:
                counts.append(len(names))
        return counts

    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "8")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "60000")
    app = traced_app()
    client = app.test_client()
    for n in range(20):  # a query string: through Flask, not the observability fast path
        assert client.get(f"/health/live?n={n}").status_code == 200
    receiver.wait_for(lambda _spans: len(sizes()) >= 2)
    # Full batches, no export per request; a short batch may trail (spans the app made
    # while it started up reach the queue with the requests').
    assert sizes().count(8) >= 2 and max(sizes()) <= 8, sizes()
    flush(app)
    assert all(size <= 8 for size in sizes())
    live = [s for s in receiver.spans if s.name == "GET /health/live"]
    assert len(live) == 20


def test_the_docs_compose_example_configures_tracing_to_jaeger(run_cli: Any) -> None:
    """docs/observability.md's compose override, as written: its environment really turns
    tracing on towards the Jaeger service's OTLP/HTTP port."""
    import re
    from pathlib import Path
    from urllib.parse import urlsplit

    import yaml

    root = Path(__file__).resolve().parents[3]
    doc = (root / "docs" / "observability.md").read_text()
    section = doc.split("### A trace backend next to SoulSpot (Jaeger)", 1)[1]
    override = yaml.safe_load(re.search(r"```yaml\n(.+?)\n```", section, re.S).group(1))
    services = override["services"]
    ours = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    assert "soulspot" in ours, "the override extends the repository's soulspot service"
    assert services["jaeger"]["image"].startswith("jaegertracing/all-in-one:")

    env = {k: str(v) for k, v in services["soulspot"]["environment"].items()}
    result = run_cli(["config", "show"], env=env)
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert '"otlp-http"' in rows["plugins.tracing.exporter"]
    assert "SOULSPOT__TRACING__EXPORTER" in rows["plugins.tracing.exporter"]
    endpoint = urlsplit(env["SOULSPOT__TRACING__ENDPOINT"])
    assert endpoint.geturl() in rows["plugins.tracing.endpoint"]
    assert (endpoint.hostname, endpoint.port, endpoint.path) == ("jaeger", 4318, "/v1/traces")
