"""The upgrade and rollback procedures of docs/operations/ run exactly as documented (the
blocks tagged ``test:...`` are extracted and executed with bash) on a real data directory.

"Installing a version" is simulated with a third-party plugin, ``soulspot-notes``, shipped
in two versions: 1.0 (schema 1) and 2.0 (schema 2 adds a column); the test swaps which one is
on ``PYTHONPATH`` where the docs say to run ``pip install``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from deploy_support import (
    REPO,
    SOULSPOT,
    free_port,
    http_get,
    notes_distribution,
    run,
    run_doc_block,
    serving,
)

UPGRADE = REPO / "docs" / "operations" / "upgrade.md"
ROLLBACK = REPO / "docs" / "operations" / "rollback.md"


def applied(db: Path) -> dict[str, int]:
    """Schema versions as recorded in the database file itself."""
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT plugin, version FROM schema_versions").fetchall())
    finally:
        conn.close()


def notes(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT * FROM notes_note ORDER BY id").fetchall()
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.timeout(600)  # about 15 CLI runs, each building the app: slow on a busy machine
def test_documented_upgrade_then_both_rollbacks(tmp_path: Path) -> None:
    data, admin = tmp_path / "data", tmp_path / "admin"
    admin.mkdir()
    v1 = notes_distribution(tmp_path / "dists", "1.0")
    v2 = notes_distribution(tmp_path / "dists", "2.0")
    base = {"SOULSPOT__KERNEL__DATA_DIR": str(data)}
    old = {**base, "PYTHONPATH": str(v1)}
    new = {**base, "PYTHONPATH": str(v2)}
    db = data / "soulspot.db"

    # Version 1.0 in use, with data.
    first = run([SOULSPOT, "db", "upgrade"], cwd=admin, env=old)
    assert first.returncode == 0, first.stderr
    conn = sqlite3.connect(db)
    conn.executemany("INSERT INTO notes_note (body) VALUES (?)", [("a",), ("b",), ("c",)])
    conn.commit()
    conn.close()
    assert applied(db)["notes"] == 1

    # --- upgrade.md: record, "install" 2.0, migrate -------------------------------------
    run_doc_block(UPGRADE, "upgrade-before", cwd=admin, env=old)
    backup_id = (admin / "backup-before-upgrade.id").read_text().strip()
    assert backup_id and (admin / "schema-before-upgrade.json").is_file()
    run_doc_block(UPGRADE, "upgrade-after", cwd=admin, env=new)
    assert applied(db)["notes"] == 2
    assert notes(db) == [(1, "a", 0), (2, "b", 0), (3, "c", 0)]
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO notes_note (body, pinned) VALUES ('written on 2.0', 1)")
    conn.commit()
    conn.close()

    # Reinstalling 1.0 without a rollback: it refuses the newer schema, clearly.
    refused = run(
        [SOULSPOT, "serve", "--host", "127.0.0.1", "--port", str(free_port())],
        cwd=admin,
        env=old,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "notes" in refused.stderr and "newer" in refused.stderr.lower(), refused.stderr

    # --- rollback.md A: downgrade with 2.0, "reinstall" 1.0, verify, serve -------------
    out = run_doc_block(ROLLBACK, "rollback-downgrade", cwd=admin, env=new)
    assert (admin / "downgrades.txt").read_text().split() == ["notes", "1"], out.stdout
    assert applied(db)["notes"] == 1
    assert [row[1] for row in notes(db)] == ["a", "b", "c", "written on 2.0"]
    verify = run_doc_block(ROLLBACK, "rollback-verify", cwd=admin, env=old)
    assert "up to date" in verify.stdout and "pending" not in verify.stdout
    with serving(admin, old) as (url, _proc):
        status, body, _ = http_get(f"{url}/health/ready")
        assert status == 200, body

    # --- rollback.md B: upgrade again, then restore the pre-upgrade backup with 1.0 ------
    again = run([SOULSPOT, "db", "upgrade"], cwd=admin, env=new)  # as upgrade.md did above
    assert again.returncode == 0, again.stderr
    assert applied(db)["notes"] == 2
    restored = run_doc_block(
        ROLLBACK, "rollback-restore", cwd=admin, env={**old, "DATA_DIR": str(data)}
    )
    assert "up to date" in restored.stdout
    assert applied(db)["notes"] == 1
    # The pre-upgrade state: the three rows, nothing written later.
    assert [row[1] for row in notes(db)] == ["a", "b", "c"]
    assert (admin / "backup-before-upgrade.id").read_text().strip() == backup_id
    assert list((data / "set-aside").glob("soulspot.db*")), "the newer database was not kept"
