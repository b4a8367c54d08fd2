"""The hook reference's examples in docs/plugins.md (``migrations``, ``metrics``,
``audit_event``, ``backup_sources``) run as written: each code block is loaded as a plugin
module and does what the page says in a real app."""

from __future__ import annotations

import logging
import re
import types
from pathlib import Path

import pytest

from soulspot import hookimpl
from soulspot.types import PluginManifest

REPO = Path(__file__).resolve().parents[2]
PAGE = (REPO / "docs" / "plugins.md").read_text()
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def example(hook: str) -> types.ModuleType:
    """The first python block of the hook's section, as a module named ``notes_<hook>``."""
    section = PAGE.split(f"\n### `{hook}`\n", 1)[1].split("\n### ", 1)[0]
    match = BLOCK.search(section)
    assert match, f"docs/plugins.md: no python example under ### `{hook}`"
    module = types.ModuleType(f"notes_{hook}")
    exec(compile(match.group(1), f"docs/plugins.md#{hook}", "exec"), module.__dict__)
    module.manifest = hookimpl(lambda: PluginManifest(description="notes, from the docs"))
    return module


def test_migrations_example(make_app):
    app = make_app(plugins=[("notes", example("migrations"))], only=["sqlite"])
    with app.app_context():
        from soulspot.api import storage

        store = storage()
        assert store.schema_versions()["notes"] == 2
        with store.connection():
            columns = [c.name for c in store.database.get_columns("notes_items")]
    assert columns == ["id", "text", "pinned"]


def test_metrics_example(make_app):
    module = example("metrics")
    app = make_app(plugins=[("notes", module)], only=["metrics"])
    module.notes_added(app).inc()
    scrape = app.test_client().get("/metrics").get_data(as_text=True)
    assert "soulspot_notes_added_total 1.0" in scrape
    other = make_app(plugins=[("notes", module)], only=["metrics"])
    assert "soulspot_notes_added_total 0.0" in other.test_client().get("/metrics").get_data(
        as_text=True
    )  # one counter per app


def test_audit_event_example(make_app, caplog):
    app = make_app(plugins=[("notes", example("audit_event"))], only=[])
    caplog.set_level(logging.WARNING, logger="soulspot.notes")
    with app.app_context():
        from soulspot.api import audit

        audit("backup.created", outcome="failed")
        audit("backup.created")
        audit("notes.added", note=1)
    warned = [r for r in caplog.records if r.name == "soulspot.notes"]
    assert [(r.getMessage(), r.event, r.outcome) for r in warned] == [
        ("a backup action did not succeed", "backup.created", "failed")
    ]


def test_backup_sources_example(make_app, tmp_path):
    app = make_app(plugins=[("notes", example("backup_sources"))], only=[])
    with app.app_context():
        from soulspot.api import data_dir, hook

        [[source]] = hook(app).backup_sources(app=app)
        folder = data_dir() / "notes-files"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("kept")
    snap = tmp_path / "snap"
    snap.mkdir()
    source.snapshot(snap)
    assert source.verify(snap) == []
    (folder / "a.txt").write_text("changed")
    (folder / "b.txt").write_text("new")
    source.restore(snap)
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt"]
    assert (folder / "a.txt").read_text() == "kept"
    assert not folder.with_name("notes-files.old").exists()


@pytest.mark.parametrize("hook", ["migrations", "metrics", "audit_event", "backup_sources"])
def test_every_example_is_a_plugin_module(hook):
    module = example(hook)
    assert callable(getattr(module, hook))
