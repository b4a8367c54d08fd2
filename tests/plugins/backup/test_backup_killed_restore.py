"""A restore killed with SIGKILL at an injected point leaves usable data behind."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from backup_support import DISABLE, KillSource, KillSourceLast, RowsPlugin, all_rows, insert_rows

from soulspot_backup.service import service

CHILD = Path(__file__).with_name("restore_child.py")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stage", "where", "expect"),
    [
        ("verify", "first", "current"),  # while the archive is being verified
        ("restore", "first", "current"),  # in maintenance, before any file was swapped
        ("restore", "last", "restored"),  # after the database was swapped in
    ],
)
def test_killed_restore_leaves_previous_data_usable(
    make_app: Any, tmp_path: Path, stage: str, where: str, expect: str
) -> None:
    data = tmp_path / "data"
    armed = tmp_path / "armed"
    killer_cls = KillSource if where == "first" else KillSourceLast
    killer = killer_cls(stage, where == "first", armed)
    plugins = [("rows", RowsPlugin()), ("killpoint", killer)]
    app = make_app(plugins=plugins, disable=DISABLE, data_dir=data)
    insert_rows(app, 3000)
    backed_up = all_rows(app)
    with app.app_context():
        info = service(app).create("manual")
    insert_rows(app, 1000, start=3000)
    current = all_rows(app)
    store = app.extensions["soulspot"].storage
    db_path = Path(store.path)
    store.close()

    armed.write_text("1")
    child = subprocess.run(
        [sys.executable, str(CHILD), str(data), info.id, stage, where, str(armed)],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    assert "RESTORE FINISHED" not in child.stdout
    armed.unlink()

    conn = sqlite3.connect(str(db_path))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    after = make_app(plugins=[("rows", RowsPlugin())], disable=DISABLE, data_dir=data)
    rows = all_rows(after)
    assert rows == (current if expect == "current" else backed_up)
    insert_rows(after, 1, start=10_000)  # and it takes writes
    svc = service(after)
    partial = [p.name for p in svc.dir.iterdir() if p.name.startswith((".tmp-", "soulspot-"))]
    assert all(p.startswith("soulspot-") for p in partial)  # no temporary archive left
    assert all(b.verified is not False for b in svc.backups())
    with after.app_context():
        service(after).restore(info.id)  # a restore now runs through
    assert all_rows(after) == backed_up
    assert not [p for p in svc.dir.iterdir() if p.name.startswith((".restore-", ".staging-"))]
