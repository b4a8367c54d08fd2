"""The hooks the kernel itself calls or hands out (issue 2, item 3): each implemented by an
in-code plugin and driven through the kernel's own code path — ``create_app``, the kernel API
(``audit``, ``take_backup``), the scheduler's ``run_job`` — or, for collect-only hooks that
other plugins consume, through ``state.hook`` with the answer shape checked."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from kernel_support import BUILTINS

from soulspot import api, hookimpl
from soulspot.testing import run_jobs
from soulspot.types import (
    AuditEvent,
    BackupSource,
    CheckResult,
    HealthCheck,
    Job,
    Migration,
    PluginManifest,
)

OFF = list(BUILTINS)


class MemoryStore:
    """The smallest object the kernel treats as the storage concern."""

    def __init__(self) -> None:
        self.opened = 0

    @contextlib.contextmanager
    def connection(self) -> Iterator[None]:
        self.opened += 1
        yield


class Recorder:
    """Implements every hook the kernel calls and records what it saw."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.events: list[AuditEvent] = []
        self.executed: list[tuple[str, str, BaseException | None]] = []
        self.store = MemoryStore()

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(provides=("storage", "backup"), description="records hook calls")

    @hookimpl
    def init_app(self, app: Flask) -> None:
        self.calls.append("init_app")
        app.config["RECORDER_BLUEPRINTS_AT_INIT"] = len(app.blueprints)

    @hookimpl
    def register_blueprints(self, app: Flask) -> list[Any]:
        self.calls.append("register_blueprints")
        return []

    @hookimpl
    def storage(self, app: Flask) -> MemoryStore:
        self.calls.append("storage")
        return self.store

    @hookimpl
    def startup(self, app: Flask) -> None:
        self.calls.append("startup")
        app.config["RECORDER_STARTUP_HAD_CONTEXT"] = api.storage() is self.store

    @hookimpl
    def audit_event(self, app: Flask, event: AuditEvent) -> None:
        self.events.append(event)

    @hookimpl
    def take_backup(self, app: Flask, trigger: str) -> str:
        return f"backup-{trigger}"

    @hookimpl
    def jobs(self, app: Flask) -> list[Job]:
        def ok() -> None:
            self.calls.append(f"job ok as {g.request_id}")

        def fails() -> None:
            raise ValueError("job broke")

        return [Job("rec.ok", ok, "interval", {"minutes": 5}), Job("rec.fails", fails, "cron")]

    @hookimpl
    def job_executed(
        self, app: Flask, job_id: str, run_id: str, duration: float, error: BaseException | None
    ) -> None:
        assert duration >= 0
        self.executed.append((job_id, run_id, error))

    @hookimpl
    def health_checks(self, app: Flask) -> list[HealthCheck]:
        return [HealthCheck("recorder", lambda: CheckResult("ok", "fine"), critical=True)]

    @hookimpl
    def dependency_versions(self, app: Flask) -> dict[str, str]:
        return {"recorder": "1.2.3"}

    @hookimpl
    def metrics(self, app: Flask) -> list[Any]:
        from prometheus_client import Counter

        return [Counter("soulspot_recorder_things", "Things recorded.", registry=None)]

    @hookimpl
    def backup_sources(self, app: Flask) -> list[BackupSource]:
        def snapshot(dest: Path) -> None:
            (dest / "rec.txt").write_text("state")

        def restore(src: Path) -> None:
            self.calls.append("restored " + (src / "rec.txt").read_text())

        return [BackupSource("recorder", snapshot, restore)]

    @hookimpl
    def migrations(self) -> list[Migration]:
        return [Migration("recorder", 1, "create", lambda db, m: None, lambda db, m: None)]


@pytest.fixture
def recorder(make_app: Any) -> tuple[Flask, Recorder]:
    rec = Recorder()
    return make_app(plugins=[("recorder", rec)], disable=OFF), rec


def test_lifecycle_order_and_storage(recorder):
    app, rec = recorder
    assert rec.calls == ["init_app", "register_blueprints", "storage", "startup"]
    assert app.config["RECORDER_BLUEPRINTS_AT_INIT"] == 0  # before any blueprint
    assert app.config["RECORDER_STARTUP_HAD_CONTEXT"] is True
    with app.app_context():
        assert api.storage() is rec.store
        assert api.has_storage()


def test_no_storage_plugin(make_app):
    app = make_app(disable=OFF)
    with app.app_context():
        assert not api.has_storage()
        with pytest.raises(RuntimeError, match="no storage plugin is enabled"):
            api.storage()
        assert api.take_backup("manual") is None  # no backup concern: nothing to do


def test_audit_fans_out_without_secrets(recorder):
    app, rec = recorder
    with app.test_request_context(
        "/x", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"User-Agent": "pytest"}
    ):
        g.request_id = "req-123"
        record = api.audit(
            "backup.created", outcome="ok", backup_id="b1", access_token="t0k3n", passphrase="pw"
        )
    assert rec.events == [record]
    assert record.event == "backup.created" and record.outcome == "ok"
    assert record.details == {"backup_id": "b1"}
    assert (record.ip, record.user_agent, record.request_id) == ("127.0.0.1", "pytest", "req-123")
    assert record.time.tzinfo is not None


def test_take_backup_is_first_result(recorder):
    app, _rec = recorder
    with app.app_context():
        assert api.take_backup("pre-migration") == "backup-pre-migration"


def test_jobs_run_with_a_run_id_and_report(recorder):
    app, rec = recorder
    run_jobs(app, "rec.ok")
    assert rec.calls[-1].startswith("job ok as job-rec.ok-")
    job_id, run_id, error = rec.executed[-1]
    assert (job_id, error) == ("rec.ok", None)
    assert rec.calls[-1].endswith(run_id)
    with pytest.raises(ValueError, match="job broke"):
        run_jobs(app, "rec.fails")
    assert rec.executed[-1][0] == "rec.fails"
    assert isinstance(rec.executed[-1][2], ValueError)
    with pytest.raises(LookupError, match=r"no job 'rec\.nope'"):
        run_jobs(app, "rec.nope")


def test_collected_hooks_hand_back_each_plugins_answer(recorder, tmp_path):
    app, rec = recorder
    hook = app.extensions["soulspot"].hook
    checks = [c for group in hook.health_checks(app=app) for c in group]
    assert [(c.name, c.critical, c.check().status) for c in checks] == [("recorder", True, "ok")]
    assert hook.dependency_versions(app=app) == [{"recorder": "1.2.3"}]
    [collectors] = hook.metrics(app=app)
    assert collectors[0]._name == "soulspot_recorder_things"
    [sources] = hook.backup_sources(app=app)
    sources[0].snapshot(tmp_path)
    sources[0].restore(tmp_path)
    assert rec.calls[-1] == "restored state"
    assert sources[0].verify(tmp_path) == []
    [migrations] = hook.migrations()
    assert (migrations[0].plugin, migrations[0].version) == ("recorder", 1)


def test_hooks_listed_per_plugin(recorder):
    app, _rec = recorder
    info = {p.name: p for p in app.extensions["soulspot"].plugins}["recorder"]
    assert info.hooks == sorted(
        [
            "audit_event",
            "backup_sources",
            "dependency_versions",
            "health_checks",
            "init_app",
            "job_executed",
            "jobs",
            "metrics",
            "migrations",
            "register_blueprints",
            "startup",
            "storage",
            "take_backup",
        ]
    )
    assert info.provides == ["backup", "storage"]
