"""The audit log: page (paged, filters), API, export CLI, retention job, plugin changes,
dashboard panel and nav item."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from flask import Flask
from security_support import NO_AUTH

from soulspot.cli import cli
from soulspot.testing import build_app, run_jobs
from soulspot.types import AuditEvent

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
EXPORT_KEYS = ("time", "event", "outcome", "actor", "ip", "user_agent", "request_id", "details")


def _seed(app: Flask, events: list[tuple[str, dt.datetime]]) -> None:
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection():
        for name, when in events:
            store.audit.append(
                AuditEvent(
                    event=name,
                    time=when,
                    actor="owner",
                    ip="127.0.0.1",
                    outcome="ok",
                    details={"note": "=HYPERLINK(1)" if name == "backup.created" else "x"},
                )
            )


def _count(app: Flask, **kw: Any) -> int:
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection():
        return store.audit.count(**kw)


def test_audit_page_pages_and_filters(make_app: Any) -> None:
    app = make_app({"plugins": {"security": {"audit_page_size": 5}}}, disable=NO_AUTH)
    _seed(app, [("auth.sign_in", NOW - dt.timedelta(minutes=i)) for i in range(12)])
    _seed(app, [("backup.created", NOW - dt.timedelta(days=3))])
    client = app.test_client()
    assert "auth.sign_in" in client.get("/audit").get_data(as_text=True)
    page = client.get("/audit?event=auth.sign_in").get_data(as_text=True)
    assert "12 events" in page and "page 1 of 3" in page
    assert page.count("<code>auth.sign_in</code>") == 5
    last = client.get("/audit?event=auth.sign_in&page=3").get_data(as_text=True)
    assert last.count("<code>auth.sign_in</code>") == 2 and 'rel="prev"' in last
    assert 'rel="next"' in page
    resp = client.get("/audit?event=backup.created")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<code>backup.created</code>" in text and "<code>auth.sign_in</code>" not in text
    day = (NOW - dt.timedelta(days=3)).date().isoformat()
    text = client.get(f"/audit?since={day}&until={day}").get_data(as_text=True)
    assert "<code>backup.created</code>" in text and "<code>auth.sign_in</code>" not in text
    # an empty filter form submits empty fields: accepted as "no filter"
    assert client.get("/audit?event=&since=&until=").status_code == 200
    # invalid filters: 422 page listing the field
    bad = client.get("/audit?since=yesterday&page=0", headers={"Accept": "text/html"})
    assert bad.status_code == 422
    assert "since" in bad.get_data(as_text=True) and "page" in bad.get_data(as_text=True)

    api = client.get("/api/audit?page=3").json
    assert api["total"] >= 13 and api["page"] == 3 and api["pages"] >= 3
    assert len(api["events"]) == 3 or api["total"] > 13
    only = client.get("/api/audit?event=backup.created").json
    assert only["total"] == 1 and only["events"][0]["details"]["note"] == "=HYPERLINK(1)"


def test_nav_item_and_dashboard_panel(make_app: Any) -> None:
    app = make_app(disable=NO_AUTH)
    _seed(app, [("secrets.rotated", NOW)])
    page = app.test_client().get("/").get_data(as_text=True)
    assert 'href="/audit"' in page
    assert "Recent audit events" in page and "secrets.rotated" in page


def _cli_config(tmp_path: Path, **security: Any) -> Path:
    path = tmp_path / "cli.toml"
    # Every plugin stays enabled: the `soulspot` click group loads plugin commands once per
    # process, so a config disabling one would hide its commands from later tests.
    lines = [
        "[kernel]",
        f'data_dir = "{tmp_path / "clidata"}"',
        "[plugins.security]",
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in security.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_export_jsonl_and_csv(tmp_path: Path) -> None:
    config = _cli_config(tmp_path)
    app = build_app(tmp_path / "clidata", config_path=config)
    _seed(
        app,
        [
            ("auth.sign_in", NOW - dt.timedelta(days=10)),
            ("auth.sign_out", NOW - dt.timedelta(days=2)),
            ("backup.created", NOW - dt.timedelta(days=1)),
        ],
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config), "audit", "export", "--since", "7d"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    # standard output is only the export (logs go to stderr): every line is an event
    assert rows and all(set(r) == set(EXPORT_KEYS) for r in rows)
    seeded = [r for r in rows if r["event"] in ("auth.sign_in", "auth.sign_out", "backup.created")]
    assert [r["event"] for r in seeded] == ["auth.sign_out", "backup.created"]  # oldest first
    assert {"time", "actor", "ip", "user_agent", "request_id", "outcome", "details"} <= set(rows[0])
    out = tmp_path / "audit.csv"
    since = (NOW - dt.timedelta(days=30)).date().isoformat()
    result = runner.invoke(
        cli,
        [
            "--config",
            str(config),
            "audit",
            "export",
            "--since",
            since,
            "--event",
            "backup.created",
            "--format",
            "csv",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(table) == 1 and table[0]["event"] == "backup.created"
    # formulas are defused for spreadsheets
    assert json.loads(table[0]["details"])["note"] == "=HYPERLINK(1)"
    assert not table[0]["details"].startswith("=")
    bad = runner.invoke(cli, ["--config", str(config), "audit", "export", "--since", "soon"])
    assert bad.exit_code == 2
    assert "not a date" in bad.output and "Traceback" not in bad.output


def test_retention_job_prunes_old_events(make_app: Any) -> None:
    app = make_app({"plugins": {"security": {"audit_retention_days": 30}}}, disable=NO_AUTH)
    _seed(app, [("auth.sign_in", NOW - dt.timedelta(days=d)) for d in (1, 29, 31, 400)])
    before = _count(app, event="auth.sign_in")
    run_jobs(app, "security.audit_retention")
    assert _count(app, event="auth.sign_in") == before - 2
    keep = make_app({"plugins": {"security": {"audit_retention_days": 0}}}, disable=NO_AUTH)
    _seed(keep, [("auth.sign_in", NOW - dt.timedelta(days=4000))])
    run_jobs(keep, "security.audit_retention")
    assert _count(keep, event="auth.sign_in") == 1


def test_plugins_changed_is_audited_when_the_set_differs(make_app: Any, tmp_path: Path) -> None:
    data = tmp_path / "shared"
    first = make_app(disable=NO_AUTH, data_dir=data)
    assert _count(first, event="config.plugins_changed") == 0  # first start: nothing to compare
    same = make_app(disable=NO_AUTH, data_dir=data)
    assert _count(same, event="config.plugins_changed") == 0
    fewer = make_app(disable=[*NO_AUTH, "backup"], data_dir=data)
    store = fewer.extensions["soulspot"].storage
    with fewer.app_context(), store.connection():
        events = store.audit.query(event="config.plugins_changed")
    assert len(events) == 1
    assert events[0].details["disabled"] == ["backup"]
    assert events[0].details["enabled"] == []
    assert events[0].actor == "system"


def test_prune_command_asks_and_prunes(tmp_path: Path) -> None:
    config = _cli_config(tmp_path, audit_retention_days=30)
    app = build_app(tmp_path / "clidata", config_path=config)
    _seed(app, [("auth.sign_in", NOW - dt.timedelta(days=d)) for d in (2, 60)])
    runner = CliRunner()
    refused = runner.invoke(cli, ["--config", str(config), "audit", "prune"])
    assert refused.exit_code == 1 and "--yes" in refused.output
    assert _count(app, event="auth.sign_in") == 2
    done = runner.invoke(cli, ["--config", str(config), "audit", "prune", "--yes"])
    assert done.exit_code == 0, done.output
    assert "pruned 1 audit event(s) older than 30 days" in done.output
    assert _count(app, event="auth.sign_in") == 1
