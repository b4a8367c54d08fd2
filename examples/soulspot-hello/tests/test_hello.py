"""Tests of the hello plugin, written the way a plugin author would: with the fixtures of
``soulspot.testing`` (``make_app`` builds a real app on a fresh data dir under tmp_path).

Run them after installing the plugin: ``pip install -e . && pytest -p soulspot.testing``.
"""

from __future__ import annotations

import pytest

from soulspot import api
from soulspot.config import ConfigError
from soulspot.testing import run_jobs

# The built-in plugins are not what we test here; `spotify` is the sign-in (auth) concern,
# disabled so pages answer on loopback without signing in.
OTHERS = [
    "sqlite",
    "spotify",
    "observability",
    "metrics",
    "security",
    "backup",
    "library",
    "collection",
    "tracing",
    "notify",
]
#: With storage (the greetings table) and the metrics plugin (/metrics), still no sign-in.
STORED = ["sqlite", "metrics", "hello"]


def test_page_nav_and_panel(make_app):
    app = make_app({"plugins": {"hello": {"greeting": "Ahoy", "name": "Ada"}}}, disable=OTHERS)
    client = app.test_client()
    page = client.get("/hello").get_data(as_text=True)
    assert "<h1>Ahoy, Ada!</h1>" in page
    home = client.get("/").get_data(as_text=True)
    assert 'href="/hello"' in home and "Open the hello page" in home


def test_job_counts(make_app):
    app = make_app(disable=OTHERS)
    run_jobs(app, "hello.count")
    run_jobs(app, "hello.count")
    page = app.test_client().get("/hello").get_data(as_text=True)
    assert '<strong class="hello-runs">2</strong>' in page


def test_health_check(make_app):
    app = make_app({"plugins": {"hello": {"greeting": "Hi"}}}, disable=OTHERS)
    hook = api.hook(app)
    with app.app_context():
        checks = [c for group in hook.health_checks(app=app) for c in group if c.name == "hello"]
        assert [c.check().status for c in checks] == ["ok"]
        assert not checks[0].critical


def test_bad_config_is_refused(make_app):
    with pytest.raises(ConfigError, match=r"plugins\.hello\.interval_minutes = 0"):
        make_app({"plugins": {"hello": {"interval_minutes": 0}}}, disable=OTHERS)


def test_can_be_disabled(make_app):
    app = make_app(disable=[*OTHERS, "hello"])
    assert app.test_client().get("/hello").status_code == 404


def test_command(run_cli):
    # `run_cli` runs `soulspot` in process against a config file it writes under tmp_path
    result = run_cli(
        ["hello", "greet", "--name", "Ada"],
        config={"plugins": {"hello": {"greeting": "Ahoy"}}},
        disable=OTHERS,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "Ahoy, Ada!"


def test_api_stores_a_greeting(make_app):
    client = make_app(only=STORED).test_client()
    created = client.post("/api/hello/greetings", json={"name": "Ada"})
    assert created.status_code == 201
    assert created.get_json()["name"] == "Ada"
    listed = client.get("/api/hello/greetings?limit=5").get_json()
    assert [g["name"] for g in listed["greetings"]] == ["Ada"]


def test_api_validates_its_input(make_app):
    client = make_app(only=STORED).test_client()
    refused = client.post("/api/hello/greetings", json={"name": "", "extra": 1})
    assert refused.status_code == 422
    assert sorted(e["loc"][0] for e in refused.get_json()["errors"]) == ["extra", "name"]
    assert client.get("/api/hello/greetings?limit=0").status_code == 422


def test_api_without_storage_says_so(make_app):
    answer = make_app(disable=OTHERS).test_client().get("/api/hello/greetings")
    assert answer.status_code == 409
    assert answer.get_json()["title"] == "No storage"


def test_a_greeting_is_audited_and_counted(make_app):
    app = make_app(only=STORED)
    client = app.test_client()
    greeting_id = client.post("/api/hello/greetings", json={"name": "Ada"}).get_json()["id"]
    with app.app_context():
        from soulspot.api import storage

        [event] = storage().audit.query(event="hello.greeted")
    assert event.details == {"greeting": greeting_id}
    scrape = client.get("/metrics").get_data(as_text=True)
    assert "soulspot_hello_greetings_total 1.0" in scrape


def test_migration(run_cli):
    # a database made before the plugin was installed (`db status` only reads: it needs one)
    assert run_cli(["db", "upgrade"], only=["sqlite", "metrics"]).exit_code == 0
    status = run_cli(["db", "status"], only=STORED)
    assert status.exit_code == 0, status.output
    assert "hello" in status.stdout and "pending" in status.stdout
    assert run_cli(["db", "upgrade"], only=STORED).exit_code == 0
    # the same data dir: the upgrade is seen
    assert "pending" not in run_cli(["db", "status"], only=STORED).stdout
