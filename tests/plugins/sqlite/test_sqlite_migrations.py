"""Migrations: per plugin, up/down/up round trips keep data, newer schema refused, a backup
before migrating, auto_migrate off, and ``soulspot db status | upgrade | downgrade``."""

from __future__ import annotations

import json

import pytest
from sqlite_support import (
    NotesPlugin,
    RecordingBackup,
    raw,
    run_cli,
    schema_of,
    write_config,
)

from soulspot import hookimpl
from soulspot.plugins import PluginError
from soulspot.types import Migration, PluginManifest

ONLY_SQLITE = {
    "SOULSPOT_DISABLE_PLUGINS": "spotify,observability,metrics,security,backup,library,collection"
}


def _store(app):
    return app.extensions["soulspot"].storage


def test_fresh_database_is_migrated_at_start_with_bookkeeping(make_app):
    app = make_app(plugins=[("notes", NotesPlugin())])
    store = _store(app)
    assert store.schema_versions()["sqlite"] == store.head_versions()["sqlite"]
    assert store.schema_versions()["notes"] == 3
    conn = raw(store.path)
    rows = dict(conn.execute("SELECT plugin, version FROM schema_versions").fetchall())
    conn.close()
    assert rows["notes"] == 3
    with app.app_context():
        events = store.audit.query(event="db.migrated", limit=100)
    assert {(e.details["plugin"], e.details["version"]) for e in events} >= {
        ("notes", 1),
        ("notes", 2),
        ("notes", 3),
    }


def test_every_installed_migration_round_trips(make_app):
    """For every plugin's every step (built-ins included): downgrade it, upgrade again, and
    the schema is exactly as before while data in earlier tables survives."""
    app = make_app(plugins=[("notes", NotesPlugin())])
    store = _store(app)
    heads = store.head_versions()
    before = schema_of(store.path)
    order = [*sorted(p for p in heads if p != "sqlite"), "sqlite"]
    with store.connection():
        store.database.execute_sql("INSERT INTO notes (text, tag) VALUES ('keep me', 'x')")
        for plugin in order:
            head = heads[plugin]
            for version in range(head, 0, -1):
                store.settings.set("marker", {"plugin": plugin, "version": version})
                rolled = store.downgrade(plugin, version - 1)
                assert len(rolled) == head - version + 1
                assert store.schema_versions()[plugin] == version - 1
                expected = [
                    f"{plugin} -> {v}: {_name(app, plugin, v)}" for v in range(version, head + 1)
                ]
                assert store.upgrade() == expected
                assert schema_of(store.path) == before, f"{plugin} {version}"
                if not (plugin == "sqlite" and version == 1):  # v1 creates the settings table
                    assert store.settings.get("marker") == {"plugin": plugin, "version": version}
                if plugin == "notes" and version >= 2:  # notes v1 creates the notes table
                    texts = store.database.execute_sql("SELECT text FROM notes").fetchall()
                    assert texts == [("keep me",)]


def _name(app, plugin, version):
    return _store(app).migrator.migrations[plugin][version - 1].name


def test_downgrade_keeps_rows_and_upgrade_restores_the_column(make_app):
    store = _store(make_app(plugins=[("notes", NotesPlugin())]))
    with store.connection():
        store.database.execute_sql("INSERT INTO notes (text, tag) VALUES ('a', 'rock')")
        store.downgrade("notes", 1)
        assert store.database.execute_sql("SELECT * FROM notes").fetchall() == [(1, "a")]
        store.upgrade()
        assert store.database.execute_sql("SELECT text, tag FROM notes").fetchall() == [
            ("a", "none")
        ]


def test_a_failing_migration_rolls_back_and_refuses_start(make_app, tmp_path):
    def broken(db, _m):
        db.execute_sql("CREATE TABLE half_done (x)")
        raise RuntimeError("step 4 is broken")

    data = tmp_path / "d"
    make_app(plugins=[("notes", NotesPlugin())], data_dir=data)
    plugin = NotesPlugin(extra=(Migration("notes", 4, "broken", broken, broken),))
    with pytest.raises(PluginError, match=r"notes -> 4: broken failed and was rolled back"):
        make_app(plugins=[("notes", plugin)], data_dir=data)
    conn = raw(data / "soulspot.db")
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchall() == []
    assert conn.execute("SELECT version FROM schema_versions WHERE plugin='notes'").fetchone() == (
        3,
    )
    conn.close()


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ((1, 3), r"versions \[1, 3\]"),
        ((1, 1), r"versions \[1, 1\]"),
    ],
)
def test_bad_version_numbers_are_refused(make_app, steps, message):
    noop = lambda db, m: None  # noqa: E731

    class Bad:
        @hookimpl
        def manifest(self):
            return PluginManifest()

        @hookimpl
        def migrations(self):
            return [Migration("bad", v, f"s{v}", noop, noop) for v in steps]

    with pytest.raises(PluginError, match=message):
        make_app(plugins=[("bad", Bad())])


def test_a_plugin_cannot_migrate_another_plugins_schema(make_app):
    class Sneaky:
        @hookimpl
        def manifest(self):
            return PluginManifest()

        @hookimpl
        def migrations(self):
            return [Migration("sqlite", 99, "x", lambda d, m: None, lambda d, m: None)]

    with pytest.raises(
        PluginError, match="plugin 'sneaky' returned a migration for plugin 'sqlite'"
    ):
        make_app(plugins=[("sneaky", Sneaky())])


def test_newer_schema_refuses_to_start_with_a_clear_message(make_app, tmp_path):
    data = tmp_path / "d"
    make_app(plugins=[("notes", NotesPlugin())], data_dir=data)
    with pytest.raises(PluginError) as refused:
        make_app(plugins=[("notes", NotesPlugin(head=2))], data_dir=data)
    message = str(refused.value)
    assert "was written by a newer SoulSpot" in message
    assert "plugin 'notes' is at schema version 3, this code knows up to 2" in message
    assert str(data / "soulspot.db") in message
    # nothing was touched
    conn = raw(data / "soulspot.db")
    assert conn.execute("SELECT version FROM schema_versions WHERE plugin='notes'").fetchone() == (
        3,
    )
    conn.close()


@pytest.mark.slow
def test_newer_schema_refusal_on_the_command_line(tmp_path, make_app):
    data = tmp_path / "data"
    make_app(
        data_dir=data,
        disable=[
            "spotify",
            "observability",
            "metrics",
            "security",
            "backup",
            "library",
            "collection",
        ],
    )
    conn = raw(data / "soulspot.db")
    conn.execute("UPDATE schema_versions SET version = version + 1 WHERE plugin = 'sqlite'")
    conn.close()
    config = write_config(tmp_path, data)
    for args in (("db", "upgrade"), ("serve", "--port", "0")):
        result = run_cli("--config", str(config), *args, cwd=tmp_path, env=ONLY_SQLITE)
        out = result.stdout + result.stderr
        assert result.returncode == 2, out
        assert "Traceback" not in out
        assert "was written by a newer SoulSpot" in result.stderr
        assert "plugin 'sqlite' is at schema version" in result.stderr
    status = run_cli("--config", str(config), "db", "status", cwd=tmp_path, env=ONLY_SQLITE)
    assert status.returncode == 0, status.stderr
    assert "NEWER than this code" in status.stdout


def test_backup_is_taken_before_migrating_existing_data(make_app, tmp_path):
    data = tmp_path / "d"
    fresh_backup = RecordingBackup()
    make_app(
        plugins=[("notes", NotesPlugin(head=1)), ("recorder", fresh_backup)],
        data_dir=data,
        disable=["backup"],
    )
    assert fresh_backup.calls == []  # an empty new database needs no backup
    backup = RecordingBackup()
    app = make_app(
        plugins=[("notes", NotesPlugin(head=3)), ("recorder", backup)],
        data_dir=data,
        disable=["backup"],
    )
    assert [(trigger, versions["notes"]) for trigger, versions in backup.calls] == [
        ("pre-migration", 1)
    ]
    assert _store(app).schema_versions()["notes"] == 3
    # up to date: no backup
    again = RecordingBackup()
    make_app(
        plugins=[("notes", NotesPlugin(head=3)), ("recorder", again)],
        data_dir=data,
        disable=["backup"],
    )
    assert again.calls == []


def test_failed_pre_migration_backup_means_no_migration(make_app, tmp_path):
    data = tmp_path / "d"
    make_app(plugins=[("notes", NotesPlugin(head=1))], data_dir=data, disable=["backup"])
    with pytest.raises(PluginError, match=r"backup before migrating failed \(OSError: disk full\)"):
        make_app(
            plugins=[("notes", NotesPlugin(head=3)), ("recorder", RecordingBackup(fail=True))],
            data_dir=data,
            disable=["backup"],
        )
    conn = raw(data / "soulspot.db")
    assert conn.execute("SELECT version FROM schema_versions WHERE plugin='notes'").fetchone() == (
        1,
    )
    conn.close()


def test_auto_migrate_off_leaves_pending_and_readiness_fails(make_app, tmp_path):
    data = tmp_path / "d"
    make_app(plugins=[("notes", NotesPlugin(head=1))], data_dir=data)
    app = make_app(
        {"plugins": {"sqlite": {"auto_migrate": False}}},
        plugins=[("notes", NotesPlugin(head=3))],
        data_dir=data,
    )
    store = _store(app)
    assert store.schema_versions()["notes"] == 1
    assert [f"{m.plugin}:{m.version}" for m in store.pending()] == ["notes:2", "notes:3"]
    from soulspot_sqlite.runtime import database_check

    result = database_check(store)
    assert result.status == "fail" and "pending" in result.message
    assert len(store.upgrade()) == 2
    assert database_check(store).status == "ok"


@pytest.mark.slow
def test_db_commands(tmp_path, make_app):
    data = tmp_path / "data"
    config = write_config(tmp_path, data)
    cli = lambda *a, **kw: run_cli("--config", str(config), *a, cwd=tmp_path, env=ONLY_SQLITE, **kw)  # noqa: E731

    # status only reads: on a data dir without a database it says so and creates nothing
    status = cli("db", "status", "--json")
    assert status.returncode == 2 and "has no database" in status.stderr, status.stderr
    assert not (data / "soulspot.db").exists()

    up = cli("db", "upgrade")
    assert up.returncode == 0, up.stderr
    assert "applied: sqlite -> 1" in up.stdout

    refused = cli("db", "downgrade", "sqlite", "0")  # no TTY, no --yes
    assert refused.returncode == 1 and "Refusing without --yes" in refused.stderr
    assert "Traceback" not in refused.stderr

    down = cli("db", "downgrade", "sqlite", "0", "--yes")
    assert down.returncode == 0, down.stderr
    assert "rolled back: sqlite <- 0" in down.stdout
    conn = raw(data / "soulspot.db")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert "audit_events" not in tables and "schema_versions" in tables

    unknown = cli("db", "downgrade", "nosuch", "0", "--yes")
    assert unknown.returncode == 2 and "no migrations for plugin 'nosuch'" in unknown.stderr

    text = cli("db", "status").stdout
    assert "sqlite" in text and "1 pending" in text


def test_status_rows():
    from soulspot_sqlite.migrate import describe

    rows = list(describe({"sqlite": 1, "old": 2, "notes": 4}, {"sqlite": 1, "notes": 3, "new": 2}))
    assert [(r["plugin"], r["state"]) for r in rows] == [
        ("sqlite", "up to date"),
        ("new", "2 pending"),
        ("notes", "NEWER than this code"),
        ("old", "no migrations loaded (plugin disabled or not installed)"),
    ]


def _hold_data_dir(data, what="soulspot serve on http://127.0.0.1:8765"):
    """Another process holding the data directory, as a running `soulspot serve` does."""
    import subprocess
    import sys

    code = (
        "import sys, time; from pathlib import Path; from soulspot.datadir import acquire; "
        f"acquire(Path({str(data)!r}), {what!r}); print('held', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_only_serve_and_db_upgrade_migrate(tmp_path, make_app):
    """`db downgrade` stays downgraded whatever other command runs next (auto_migrate on);
    `db upgrade` with nothing to do takes no backup; `db downgrade` refuses while another
    process (soulspot serve) uses the data directory."""
    data = tmp_path / "data"
    config = write_config(
        tmp_path,
        data,
        "\n[plugins.spotify]\nenabled = false\n\n[plugins.library]\nenabled = false\n"
        "\n[plugins.collection]\nenabled = false\n",
    )
    cli = lambda *a: run_cli("--config", str(config), *a, cwd=tmp_path)  # noqa: E731
    assert cli("db", "upgrade").returncode == 0
    assert cli("backup", "create").returncode == 0
    backups = lambda: sorted((data / "backups").glob("soulspot-*"))  # noqa: E731
    before = backups()
    again = cli("db", "upgrade")
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert backups() == before  # no pre-migration backup for nothing

    holder = _hold_data_dir(data)
    try:
        busy = cli("db", "downgrade", "sqlite", "0", "--yes")
    finally:
        holder.kill()
        holder.wait()
    assert busy.returncode == 1 and "soulspot serve on http://127.0.0.1:8765" in busy.stderr
    assert "Traceback" not in busy.stderr

    down = cli("db", "downgrade", "sqlite", "0", "--yes")
    assert down.returncode == 0, down.stderr
    listed = cli("backup", "list")
    assert listed.returncode == 0, listed.stderr
    status = json.loads(cli("db", "status", "--json").stdout)
    sqlite_row = next(r for r in status["plugins"] if r["plugin"] == "sqlite")
    assert sqlite_row["applied"] == 0  # `backup list` did not re-apply the migration
