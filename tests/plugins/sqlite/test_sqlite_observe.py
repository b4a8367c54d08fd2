"""Slow-query log, query metrics, health check, dependency versions, maintenance job, and
start-up without any storage provider."""

from __future__ import annotations

import logging
import os
import stat
import time
from typing import Any

import pytest
from sqlite_support import NotesPlugin

from soulspot import api
from soulspot.plugins import PluginError
from soulspot.testing import run_jobs


def _collectors(app):
    hook = app.extensions["soulspot"].hook
    mine = ("soulspot_db_", "soulspot_cache_")
    return {
        c._name: c
        for group in hook.metrics(app=app)
        for c in group
        if getattr(c, "_name", "").startswith(mine)
    }


def _sample(collector, suffix, **labels):
    for metric in collector.collect():
        for s in metric.samples:
            if s.name.endswith(suffix) and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise AssertionError(f"no sample {suffix} {labels}")


def test_slow_queries_are_logged_redacted_with_request_id(make_app, caplog):
    app = make_app({"plugins": {"sqlite": {"slow_query_ms": 0}}})
    store = app.extensions["soulspot"].storage
    caplog.set_level(logging.WARNING, logger="soulspot.sqlite")

    @app.get("/_q")
    @api.public
    def _q():  # pragma: no cover - through the client
        store.settings.set("secret-ish", "hunter2")
        store.database.execute_sql("SELECT 'literal-value', ?", ("bound-value",))
        return {"rid": api.request_id()}

    response = app.test_client().get("/_q", headers={"X-Request-ID": "req-123"})
    rid = response.get_json()["rid"]
    slow = [r for r in caplog.records if r.name == "soulspot.sqlite" and r.msg.startswith("slow")]
    assert slow, "every query is over 0 ms"
    text = "\n".join(r.getMessage() + repr(r.__dict__) for r in slow)
    assert "hunter2" not in text and "bound-value" not in text and "literal-value" not in text
    in_request = {r.sql for r in slow if r.request_id == rid}
    assert any(sql.startswith("INSERT INTO settings") for sql in in_request)
    assert "SELECT '?', ?" in in_request
    assert all(r.params.endswith("redacted]") for r in slow)


def test_fast_queries_are_not_logged_but_timed(make_app, caplog):
    app = make_app()  # slow_query_ms = 100 by default
    store = app.extensions["soulspot"].storage
    metrics = _collectors(app)
    slow_before = _sample(metrics["soulspot_db_slow_queries"], "_total")
    count_before = _sample(metrics["soulspot_db_query_duration_seconds"], "_count")
    caplog.set_level(logging.WARNING, logger="soulspot.sqlite")
    with store.connection():
        for i in range(20):
            store.settings.set(f"k{i}", i)
        # a deliberately slow statement: a SQL function that takes 150 ms
        store.database.register_function(lambda: time.sleep(0.15) or 1, "pause", 0)
        store.database.execute_sql("SELECT pause()")
    assert _sample(metrics["soulspot_db_query_duration_seconds"], "_count") >= count_before + 21
    slow = [r for r in caplog.records if r.name == "soulspot.sqlite" and r.msg.startswith("slow")]
    # only the deliberately slow query crossed 100 ms
    assert [r.sql for r in slow] == ["SELECT pause()"]
    assert _sample(metrics["soulspot_db_slow_queries"], "_total") == slow_before + 1
    assert slow[0].duration_ms >= 100


def test_metrics_are_per_app(make_app):
    first = make_app()
    with first.extensions["soulspot"].storage.connection():
        first.extensions["soulspot"].storage.cache.get("x")
    second = make_app()
    cache = _collectors(second)["soulspot_cache_requests"]
    assert _sample(cache, "_total", result="miss") == 0
    assert _sample(_collectors(first)["soulspot_cache_requests"], "_total", result="miss") == 1
    assert set(_collectors(second)) == {
        "soulspot_db_query_duration_seconds",
        "soulspot_db_slow_queries",
        "soulspot_cache_requests",
    }


def test_health_check_is_critical_and_reports_problems(make_app, tmp_path):
    app = make_app()
    hook = app.extensions["soulspot"].hook
    checks = {c.name: c for group in hook.health_checks(app=app) for c in group}
    database = checks["database"]
    assert database.critical
    result = database.check()
    assert result.status == "ok", result
    assert result.details["journal_mode"] == "wal"
    store = app.extensions["soulspot"].storage
    with store.connection():
        assert store.database.execute_sql("SELECT count(*) FROM health_probe").fetchone()[0] == 1

    # unwritable: a read-only database file answers "fail", never raises
    store.close()
    path = store.path
    mode = path.stat().st_mode
    os.chmod(path, stat.S_IRUSR)
    os.chmod(path.parent, stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.geteuid() == 0:  # root ignores file modes: make the file unreadable as a DB
            os.chmod(path.parent, stat.S_IRWXU)
            os.chmod(path, mode)
            path.write_bytes(b"this is not a database" * 100)
            for suffix in ("-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
        failed = database.check()
    finally:
        os.chmod(path.parent, stat.S_IRWXU)
        os.chmod(path, mode)
    assert failed.status == "fail"
    assert "database not usable" in failed.message


def test_dependency_versions(make_app):
    import sqlite3

    import peewee

    app = make_app()
    merged: dict[str, str] = {}
    for mapping in app.extensions["soulspot"].hook.dependency_versions(app=app):
        merged.update(mapping or {})
    assert merged["sqlite"] == sqlite3.sqlite_version
    assert merged["peewee"] == peewee.__version__


def test_maintenance_job_purges_cache_and_leaves_audit_retention_to_its_owner(make_app):
    import datetime as dt

    from soulspot.types import AuditEvent

    # [plugins.security] audit_retention_days = 0 keeps audit events forever: the store's
    # own maintenance must not prune them behind the audit log owner's back
    app = make_app({"plugins": {"security": {"audit_retention_days": 0}}})
    store = app.extensions["soulspot"].storage
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    with store.connection():
        store.cache.set("stale", 1, ttl_seconds=-5)
        store.cache.set("fresh", 1, ttl_seconds=600)
        store.audit.append(AuditEvent("auth.sign_in", old))
        kept = store.audit.count()
    run_jobs(app, "sqlite.maintenance")
    with store.connection():
        left = store.database.execute_sql("SELECT key FROM cache_entries").fetchall()
        assert left == [("fresh",)]
        assert store.audit.count() == kept
        assert store.audit.count(event="auth.sign_in") == 1


def test_without_a_storage_provider_start_up_names_the_concern(make_app):
    # the built-ins as installed (spotify and backup need storage)
    with pytest.raises(PluginError, match=r"plugin '\w+' requires concern 'storage'.*sqlite"):
        make_app(disable=["sqlite"])
    # and a third-party plugin that needs it, with every other built-in off
    others = [
        "sqlite",
        "spotify",
        "observability",
        "metrics",
        "security",
        "backup",
        "library",
        "collection",
    ]
    with pytest.raises(PluginError) as refused:
        make_app(disable=others, plugins=[("notes", NotesPlugin())])
    message = str(refused.value)
    assert "plugin 'notes' requires concern 'storage'" in message
    assert "disabled now:" in message and "sqlite" in message


def test_connection_is_returned_to_the_pool_after_each_request(make_app):
    app = make_app()
    store = app.extensions["soulspot"].storage

    @app.get("/_conn")
    @api.public
    def _conn():  # pragma: no cover - through the client
        store.settings.get("x")
        seen.append(store.database.connection())  # peewee's documented accessor
        return {"open": not store.database.is_closed()}

    seen: list[Any] = []
    client = app.test_client()
    for _ in range(5):
        assert client.get("/_conn").get_json() == {"open": True}
        assert store.database.is_closed()  # this thread gave it back at teardown
    assert all(conn is seen[0] for conn in seen)  # reused, not reopened
