"""A restore killed with SIGKILL at each step: the data is either the previous state or, when
the kill fell between the swaps, start-up refuses and names the commands that finish the
restore or roll it back; both work. Nothing is ever silently mixed (a restored database with
the current key file)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from backup_support import (
    DISABLE,
    FileSource,
    KillSource,
    KillSourceLast,
    RowsPlugin,
    all_rows,
    insert_rows,
)

from soulspot.plugins import PluginError
from soulspot_backup.service import RECOVERY, service

CHILD = Path(__file__).with_name("restore_child.py")


def _plugins(key_file: Path, killer: Any = None) -> list[tuple[str, object]]:
    plugins: list[tuple[str, object]] = [
        ("rows", RowsPlugin()),
        ("keys", FileSource(key_file, sensitive=False)),
    ]
    if killer is not None:
        plugins.append(("killpoint", killer))
    return plugins


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stage", "where", "expect"),
    [
        ("verify", "first", "current"),  # checking the archive: nothing changed
        ("stage", "last", "current"),  # database staged beside the live one, nothing swapped
        ("restore", "first", "refused"),  # swapping, before the database
        ("restore", "last", "refused"),  # swapping, database swapped, key file not yet
    ],
)
def test_killed_restore_is_previous_state_or_refused_until_finished(
    make_app: Any, tmp_path: Path, stage: str, where: str, expect: str
) -> None:
    data = tmp_path / "data"
    armed = tmp_path / "armed"
    key_file = tmp_path / "token.key"
    key_file.write_text("key of the backup\n")
    killer_cls = KillSource if where == "first" else KillSourceLast
    killer = killer_cls(stage, where == "first", armed)
    app = make_app(plugins=_plugins(key_file, killer), disable=DISABLE, data_dir=data)
    insert_rows(app, 3000)
    backed_up = all_rows(app)
    with app.app_context():
        info = service(app).create("manual")
    insert_rows(app, 1000, start=3000)
    key_file.write_text("key of now\n")
    current = all_rows(app)
    store = app.extensions["soulspot"].storage
    db_path = Path(store.path)
    store.close()

    armed.write_text("1")
    child = subprocess.run(
        [sys.executable, str(CHILD), str(data), info.id, stage, where, str(armed), str(key_file)],
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

    def start() -> Any:
        unarmed = killer_cls(stage, where == "first", armed)
        return make_app(plugins=_plugins(key_file, unarmed), disable=DISABLE, data_dir=data)

    if expect == "current":
        after = start()
        assert all_rows(after) == current and key_file.read_text() == "key of now\n"
        assert not (data / "restore-in-progress.json").exists()
        assert not (data / ".soulspot.db.restoring").exists()  # staged copy removed at start
        insert_rows(after, 1, start=10_000)  # and it takes writes
        with after.app_context():
            service(after).restore(info.id)  # a restore now runs through
        assert all_rows(after) == backed_up and key_file.read_text() == "key of the backup\n"
        svc = service(after)
        assert not [p for p in svc.dir.iterdir() if p.name.startswith((".restore-", ".tmp-"))]
        return

    with pytest.raises(PluginError) as refused:
        start()
    message = str(refused.value)
    assert (
        "interrupted restore" in message and f"soulspot backup restore {info.id} --yes" in message
    )
    pre = message.split("roll back to before:  soulspot backup restore ")[1].split()[0]
    token = RECOVERY.set(True)  # what `soulspot backup restore` does
    try:
        rolling = start()
        with rolling.app_context():
            service(rolling).restore(pre)  # roll back to the pre-restore backup
    finally:
        RECOVERY.reset(token)
    assert all_rows(rolling) == current and key_file.read_text() == "key of now\n"
    assert not (data / "restore-in-progress.json").exists()
    finishing = start()  # starts again; and the restore itself can be finished too
    with finishing.app_context():
        service(finishing).restore(info.id)
    assert all_rows(finishing) == backed_up and key_file.read_text() == "key of the backup\n"
