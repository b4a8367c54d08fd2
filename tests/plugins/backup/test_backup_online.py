"""Writers keep working while a backup runs (the snapshot is online)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from backup_support import DISABLE, RowsPlugin, all_rows, insert_rows

from soulspot_backup.archive import new_name, parse_name
from soulspot_backup.service import service


@pytest.mark.slow
def test_backup_while_four_writers_run(make_app: Any, tmp_path: Path) -> None:
    app = make_app(plugins=[("rows", RowsPlugin())], disable=DISABLE, data_dir=tmp_path / "d")
    insert_rows(app, 200_000)
    store = app.extensions["soulspot"].storage
    stop = threading.Event()
    errors: list[BaseException] = []
    written = [0, 0, 0, 0]
    during = [0, 0, 0, 0]
    backing_up = threading.Event()

    def writer(n: int) -> None:
        next_id = 1_000_000 * (n + 1)
        try:
            with app.app_context(), store.connection():
                while not stop.is_set():
                    with store.write_transaction():
                        store.database.execute_sql(
                            "INSERT INTO rows_items (id, name, value) VALUES (?, ?, ?)",
                            (next_id, f"writer {n}", n),
                        )
                    next_id += 1
                    written[n] += 1
                    if backing_up.is_set():
                        during[n] += 1
        except BaseException as exc:  # every writer error fails the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while min(written) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)  # wait (bounded) until every writer is running
    backing_up.set()
    with app.app_context():
        info = service(app).create("manual")
    backing_up.clear()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert info.verified is True
    assert sum(during) > 0, during  # writes went on during the backup
    assert all(count > 0 for count in written), written
    assert len(all_rows(app)) == 200_000 + sum(written)


def test_partial_archive_never_looks_like_a_backup(make_app: Any, tmp_path: Path) -> None:
    app = make_app(disable=DISABLE, data_dir=tmp_path / "d")
    svc = service(app)
    name = new_name("scheduled", False)
    partial = svc.dir / f".tmp-{name.filename}"
    partial.write_bytes(b"\0" * 4096)
    assert parse_name(partial.name) is None
    assert svc.backups() == []
    with app.app_context():
        info = svc.create("manual")
    assert [b.id for b in svc.backups()] == [info.id]
    assert not partial.exists()  # a killed backup's leftover is cleaned up
