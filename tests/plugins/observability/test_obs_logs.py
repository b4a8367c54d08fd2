"""Logs: one JSON object per line, request ids everywhere, stdlib loggers, redaction."""

from __future__ import annotations

import logging
from typing import Any

import requests
from obs_support import OTHERS, Probe, Recorder, parse_lines

from soulspot.testing import LiveServer, run_jobs

REQUIRED = ("timestamp", "level", "logger", "event", "request_id")


def _marked_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "_soulspot_observability", 0)]


def test_every_line_is_json_with_the_same_request_id(make_app: Any, capsys: Any) -> None:
    recorder = Recorder()
    app = make_app(disable=OTHERS, plugins=[("probe", Probe(outbound_url=recorder.url))])
    capsys.readouterr()
    with recorder.running(), LiveServer(app) as server:
        boom = requests.get(
            f"{server.url}/api/probe/boom", headers={"X-Request-ID": "rid-boom-1"}, timeout=5
        )
        call = requests.get(
            f"{server.url}/api/probe/outbound", headers={"X-Request-ID": "rid-out-2"}, timeout=5
        )
        generated = requests.get(f"{server.url}/health/live", timeout=5)
    assert boom.status_code == 500
    assert boom.headers["Content-Type"] == "application/problem+json"
    assert boom.json()["request_id"] == "rid-boom-1"
    assert "Traceback" not in boom.text and "exploded" not in boom.text
    lines = parse_lines(capsys.readouterr().out)  # every line must be JSON
    assert lines
    for line in lines:
        for key in REQUIRED:
            assert key in line, (key, line)

    errors = [entry for entry in lines if entry["logger"] == "soulspot.errors"]
    assert len(errors) == 1, errors  # logged exactly once
    error = errors[0]
    assert error["request_id"] == "rid-boom-1" == boom.headers["X-Request-ID"]
    assert error["level"] == "error"
    assert error["route"] == "/api/probe/boom"
    assert error["method"] == "GET"
    assert "RuntimeError: probe exploded" in error["exception"]
    assert "Traceback" in error["exception"]

    access = {e["request_id"]: e for e in lines if e["logger"] == "soulspot.access"}
    assert access["rid-boom-1"]["status"] == 500
    assert access["rid-boom-1"]["path"] == "/api/probe/boom"
    assert access["rid-boom-1"]["method"] == "GET"
    assert access["rid-boom-1"]["duration_ms"] >= 0
    assert "user" in access["rid-boom-1"]
    assert access["rid-out-2"]["status"] == 200
    assert recorder.headers[0]["X-Request-ID"] == call.headers["X-Request-ID"] == "rid-out-2"
    live_id = generated.headers["X-Request-ID"]
    assert len(live_id) == 32 and access[live_id]["path"] == "/health/live"


def test_unsafe_or_long_incoming_ids_are_replaced(make_app: Any) -> None:
    client = make_app(disable=OTHERS).test_client()
    ok = client.get("/health/live", headers={"X-Request-ID": "a" * 128})
    assert ok.headers["X-Request-ID"] == "a" * 128
    for bad in ("a" * 129, "has space", "semi;colon", "<script>"):
        got = client.get("/health/live", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert got != bad and len(got) == 32
    # errors carry it too, including 404s that no view handled
    missing = client.get("/nope", headers={"X-Request-ID": "nf-1"})
    assert missing.status_code == 404 and missing.headers["X-Request-ID"] == "nf-1"


def test_stdlib_loggers_go_through_the_pipeline(make_app: Any, capsys: Any) -> None:
    app = make_app(disable=OTHERS)
    capsys.readouterr()
    for name in ("werkzeug", "waitress", "apscheduler.scheduler", "authlib", "peewee"):
        logging.getLogger(name).warning("hello from %s", name, extra={"k": name})
    logging.getLogger("authlib").debug("code_verifier leaked")  # kept above DEBUG
    logging.getLogger("peewee").debug("SELECT secret")
    with app.test_request_context("/x", headers={"X-Request-ID": "ctx-1"}):
        from flask import g

        g.request_id = "ctx-1"
        logging.getLogger("soulspot.sqlite").info("inside a request")
    lines = parse_lines(capsys.readouterr().out)
    by_logger = {e["logger"]: e for e in lines}
    for name in ("werkzeug", "waitress", "apscheduler.scheduler", "authlib", "peewee"):
        assert by_logger[name]["event"] == f"hello from {name}"
        assert by_logger[name]["k"] == name
        assert by_logger[name]["level"] == "warning"
    assert by_logger["soulspot.sqlite"]["request_id"] == "ctx-1"
    assert not any("verifier" in e["event"] or "SELECT" in e["event"] for e in lines)


def test_configuring_many_apps_keeps_one_handler(make_app: Any, capsys: Any) -> None:
    for _ in range(3):
        make_app(disable=OTHERS)
    assert len(_marked_handlers()) == 1
    capsys.readouterr()
    logging.getLogger("soulspot.once").warning("only once")
    lines = [e for e in parse_lines(capsys.readouterr().out) if e["event"] == "only once"]
    assert len(lines) == 1


def test_scheduled_job_lines_carry_the_run_id(make_app: Any, capsys: Any) -> None:
    probe = Probe()
    app = make_app(disable=OTHERS, plugins=[("probe", probe)])
    capsys.readouterr()
    run_jobs(app, "probe-job")
    lines = parse_lines(capsys.readouterr().out)
    working = next(e for e in lines if e["event"] == "job working")
    finished = next(e for e in lines if e["event"] == "job finished")
    assert working["request_id"].startswith("job-probe-job-")
    assert finished["request_id"] == working["request_id"]
    assert finished["job"] == "probe-job" and finished["outcome"] == "ok"


def test_redaction_of_headers_tokens_verifiers_and_configured_secrets(
    make_app: Any, capsys: Any
) -> None:
    secret = "configured-metrics-token-4711"
    app = make_app(
        {"plugins": {"metrics": {"token": secret}}},
        disable=[n for n in OTHERS if n != "metrics"],
        plugins=[("probe", Probe())],
    )
    client = app.test_client()
    capsys.readouterr()
    assert client.get("/api/probe/log").status_code == 200
    logging.getLogger("soulspot.x").warning(f"oops the token is {secret}")
    logging.getLogger("soulspot.x").info(
        "refresh", extra={"refresh_token": "r-123456789", "Cookie": "session=abc"}
    )
    out = capsys.readouterr().out
    lines = parse_lines(out)
    for leaked in (
        secret,
        "abc.def.ghi",
        "tok-1234567890",
        "verif-0987654321",
        "zzz-secret-bearer",
        "r-123456789",
        "session=abc",
        app.config["SECRET_KEY"],
    ):
        assert leaked not in out, leaked
    said = next(e for e in lines if e["event"] == "probe says")
    assert said["headers"] == {"Authorization": "[REDACTED]", "Accept": "text/html"}
    assert said["access_token"] == "[REDACTED]"
    assert "[REDACTED]" in said["note"]


def test_console_format_and_rotating_file(make_app: Any, capsys: Any, tmp_path: Any) -> None:
    data_dir = tmp_path / "filed"
    app = make_app(
        {"plugins": {"observability": {"log_format": "console", "log_file": True}}},
        disable=OTHERS,
        data_dir=data_dir,
    )
    capsys.readouterr()
    app.test_client().get("/health/live", headers={"X-Request-ID": "file-1"})
    out = capsys.readouterr().out
    assert "request" in out and "file-1" in out
    assert not out.lstrip().startswith("{")  # people's format, not JSON
    log_file = data_dir / "logs" / "soulspot.log"
    for handler in _marked_handlers():
        handler.flush()
    entries = parse_lines(log_file.read_text())
    assert any(e["request_id"] == "file-1" and e["logger"] == "soulspot.access" for e in entries)
    make_app(disable=OTHERS)  # back to JSON for whoever runs next in this process


def test_cli_commands_log_to_stderr_and_serve_to_stdout(make_app: Any, capsys: Any) -> None:
    import click

    with click.Context(click.Command("some-command")):
        app = make_app(disable=OTHERS)  # as `soulspot.cli.with_app` builds it
    capsys.readouterr()
    logging.getLogger("soulspot.cli.test").warning("cli line")
    captured = capsys.readouterr()
    assert "cli line" not in captured.out  # stdout stays the command's own (--json)
    assert parse_lines(captured.err)[-1]["event"] == "cli line"

    hook = app.extensions["soulspot"].hook
    hook.before_serve(app=app)  # `soulspot serve`
    try:
        logging.getLogger("soulspot.cli.test").warning("serving line")
        captured = capsys.readouterr()
        assert parse_lines(captured.out)[-1]["event"] == "serving line"
        assert "serving line" not in captured.err
    finally:
        with app.app_context():
            hook.shutdown(app=app)  # as `soulspot serve` does on the way out


def test_waitress_queue_depth_warnings_are_summarised_once_a_minute(
    make_app: Any, capsys: Any
) -> None:
    from soulspot_observability.logs import OncePerInterval

    make_app(disable=OTHERS)
    queue = logging.getLogger("waitress.queue")
    (summary,) = [f for f in queue.filters if isinstance(f, OncePerInterval)]
    now = [1000.0]
    summary.clock = lambda: now[0]
    summary._next, summary._dropped = 0.0, 0  # other tests in this process served too
    capsys.readouterr()
    for depth in range(1, 101):
        queue.warning("Task queue depth is %d", depth)
    now[0] += 61
    queue.warning("Task queue depth is %d", 7)
    lines = [e for e in parse_lines(capsys.readouterr().out) if e["logger"] == "waitress.queue"]
    assert [e["event"] for e in lines] == ["Task queue depth is 1", "Task queue depth is 7"]
    assert "suppressed" not in lines[0] and lines[1]["suppressed"] == 99
