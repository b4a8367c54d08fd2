"""What a restore guarantees, each tried the way an operator's worst day brings it: clients
signing in while a restore started from the Backups page runs (nothing acknowledged is lost),
the audit log across a restore (never rewound), and full disks (the backup folder, the data
disk)."""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
import subprocess
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from backup_support import RowsPlugin, insert_rows
from flask import Blueprint, Flask, jsonify

from soulspot import api, hookimpl
from soulspot.stores import SessionRecord
from soulspot.types import PluginManifest
from soulspot_backup.archive import BackupError
from soulspot_backup.reading import read_archive
from soulspot_backup.service import service

#: No sign-in plugin (pages answer this machine), no CSRF tokens: plain clients can write.
DISABLE = ["spotify", "security", "library", "collection"]


class SignInPlugin:
    """``POST /test/sign-in``: what a sign-in writes (one session row), acknowledged with
    the row's id once committed."""

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test sign-ins")

    @hookimpl
    def register_blueprints(self, app: Flask) -> Iterable[Blueprint]:
        bp = Blueprint("test_sign_in", __name__)

        @bp.post("/test/sign-in")
        def sign_in() -> Any:
            now = dt.datetime.now(dt.UTC)
            record = SessionRecord(
                secrets.token_hex(8), "owner", now, now, now + dt.timedelta(days=1)
            )
            store = api.storage()
            with store.write_transaction():
                store.sessions.create(record)
            return jsonify({"id": record.id})

        return [bp]


def _session_ids(db: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM sessions")}
    finally:
        conn.close()


@pytest.mark.slow
def test_sign_ins_during_a_restore_from_the_backups_page_are_never_lost(
    make_app: Any, live_server: Any, tmp_path: Path
) -> None:
    app = make_app(
        plugins=[("signin", SignInPlugin()), ("rows", RowsPlugin())],
        disable=DISABLE,
        data_dir=tmp_path / "data",
    )
    insert_rows(app, 20_000)  # a restore long enough for clients to run into it
    with app.app_context():
        info = service(app).create("manual")
    server = live_server(app, threads=6)
    acked: list[str] = []
    refused: list[int] = []
    stop = threading.Event()

    def client() -> None:
        with requests.Session() as http:
            while not stop.is_set():
                answer = http.post(f"{server.url}/test/sign-in", timeout=30)
                if answer.status_code == 200:
                    acked.append(answer.json()["id"])
                else:
                    assert answer.status_code == 503, answer.text
                    refused.append(answer.status_code)

    clients = [threading.Thread(target=client) for _ in range(3)]
    for thread in clients:
        thread.start()
    try:
        while len(acked) < 30:  # clients are signing in
            assert all(t.is_alive() for t in clients)
        restored = requests.post(
            f"{server.url}/backups/{info.id}/restore", data={"confirm": "restore"}, timeout=120
        )
        assert restored.status_code == 200 and "restored" in restored.text, restored.text
        after = len(acked)
        while len(acked) < after + 30:  # and sign in again after it
            assert all(t.is_alive() for t in clients)
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=30)
    assert refused, "no client ran into the restore's maintenance"
    pre = next(b for b in service(app).backups() if b.trigger == "pre-restore")
    out = tmp_path / "pre"
    assert read_archive(pre.path, extract_to=out, keys=service(app).signing.keys()).problems == []
    kept = _session_ids(out / "database" / "soulspot.db")
    live = _session_ids(tmp_path / "data" / "soulspot.db")
    lost = set(acked) - kept - live
    assert not lost, f"{len(lost)} acknowledged sign-ins are neither live nor in {pre.id}"


def _audit(app: Any) -> list[str]:
    with app.app_context():
        store = api.storage()
        with store.connection():
            return [e.event for e in reversed(store.audit.query(limit=1000))]


def test_the_audit_log_is_not_rewound_by_a_restore(make_app: Any, tmp_path: Path) -> None:
    app = make_app(plugins=[("rows", RowsPlugin())], disable=DISABLE, data_dir=tmp_path / "d")
    with app.app_context():
        info = service(app).create("manual")
        api.audit("owner.did_something", what="after the backup")
        service(app).restore(info.id)
    events = _audit(app)
    assert "owner.did_something" in events  # written after the backup, still there
    assert events.count("backup.created") >= 2  # the backup and the pre-restore one
    assert events[-1] == "backup.restored"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Any]:
    mounted: list[Path] = []

    def mount(name: str, size: str) -> Path:
        path = tmp_path / name
        path.mkdir()
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True
        )
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(app: Any, megabytes: int) -> None:
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection(), store.write_transaction():
        store.database.execute_sql(
            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) "
            "INSERT INTO rows_items (id, name, value) SELECT i, randomblob(1000), i FROM seq",
            (megabytes * 1000,),
        )


def test_full_backup_folder_is_named_and_a_restore_then_changes_nothing(
    make_app: Any, tmp_path: Path, tmpfs: Any
) -> None:
    data = tmp_path / "data"
    roomy = make_app(plugins=[("rows", RowsPlugin())], disable=DISABLE, data_dir=data)
    _fill(roomy, 4)
    with roomy.app_context():
        archive = service(roomy).create("manual").path
    roomy.extensions["soulspot"].storage.close()
    small = tmpfs("backups", "6m")  # unpacking fits; a pre-restore backup on top does not
    app = make_app(
        {"plugins": {"backup": {"dir": str(small)}}},
        plugins=[("rows", RowsPlugin())],
        disable=DISABLE,
        data_dir=data,
    )
    insert_rows(app, 1, start=900_000)
    with app.app_context(), pytest.raises(BackupError) as full:
        service(app).create("manual")
    assert f"the backup folder {small} is full" in str(full.value)
    assert "database" not in str(full.value).split("full")[0]  # not "database full"
    with app.app_context(), pytest.raises(BackupError) as refused:
        service(app).restore(str(archive))
    message = str(refused.value)
    assert f"the pre-restore backup failed: the backup folder {small} is full" in message
    assert "nothing was changed" in message
    assert not [p for p in small.iterdir() if p.name.startswith("set-aside-")]  # no raw copy
    assert 900_001 in {r[0] for r in _rows(app)}  # the newer row is still there
    with app.app_context():
        events = [e for e in api.storage().audit.query(event="backup.restored")]
    assert events and events[0].outcome == "failed"


def _rows(app: Any) -> list[tuple[Any, ...]]:
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection():
        return [tuple(r) for r in store.database.execute_sql("SELECT id FROM rows_items")]


def test_writes_on_a_full_data_disk_answer_503_disk_full(
    make_app: Any, tmp_path: Path, tmpfs: Any
) -> None:
    data = tmpfs("data", "3m")
    app = make_app(
        {"plugins": {"backup": {"dir": str(tmp_path / "backups")}}},
        plugins=[("signin", SignInPlugin()), ("rows", RowsPlugin())],
        disable=DISABLE,
        data_dir=data,
    )
    client = app.test_client()
    assert client.post("/test/sign-in").status_code == 200
    _fill_disk(data)
    answer = client.post("/test/sign-in", headers={"Accept": "application/json"})
    assert answer.status_code == 503, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["title"] == "Disk full" and "Free some space" in body["detail"]


def _fill_disk(folder: Path) -> None:
    with (folder / "filler").open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
