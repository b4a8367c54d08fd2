"""docs/operations/disaster-recovery.md, the restore command as printed on the page: machine A
takes an encrypted backup; on machine B (an empty directory with an empty config file) the
documented command — only its example archive path and passphrase replaced — restores it,
and the documented checks pass. (tests/plugins/backup holds the full drill with sign-in.)"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from deploy_support import REPO, SOULSPOT, http_get, run, serving

DOC = REPO / "docs" / "operations" / "disaster-recovery.md"
PASSPHRASE = "correct horse battery staple"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_documented_restore_on_a_new_machine(tmp_path: Path) -> None:
    a, b = tmp_path / "machine-a", tmp_path / "machine-b"
    for d in (a, b):
        (d / "config").mkdir(parents=True)
        (d / "config" / "soulspot.toml").write_text("")
    env = {"SOULSPOT_BACKUP_PASSPHRASE": PASSPHRASE}
    assert run([SOULSPOT, "db", "upgrade"], cwd=a).returncode == 0
    conn = sqlite3.connect(a / "data" / "soulspot.db")
    conn.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES ('dr.marker', '\"from A\"', 0)"
    )
    conn.commit()
    conn.close()
    made = run([SOULSPOT, "backup", "create", "--encrypt"], cwd=a, env=env)
    assert made.returncode == 0, made.stderr
    backup_id = made.stdout.strip().splitlines()[-1]
    (archive,) = (a / "data" / "backups").glob(f"*{backup_id}*")

    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S)
    restore = next(b for b in blocks if "backup restore" in b)
    script = re.sub(r"(?m)^\s*#.*\n", "", restore)  # the comment line
    script = script.replace("'...'", f"'{PASSPHRASE}'")
    script = re.sub(r"/mnt/usb/\S+", str(archive), script)
    assert str(archive) in script and PASSPHRASE in script, script
    done = run(["bash", "-c", "set -euo pipefail\n" + script], cwd=b)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"restored {backup_id}" in done.stdout and "database" in done.stdout

    # Step 5, "Check": schema at head, /health/ready 200, and the data is A's.
    status = run([SOULSPOT, "db", "status"], cwd=b)
    assert status.returncode == 0 and "pending" not in status.stdout.split("state")[-1]
    with serving(b, {}) as (url, _proc):
        assert http_get(f"{url}/health/ready")[0] == 200
    conn = sqlite3.connect(b / "data" / "soulspot.db")
    try:
        row = conn.execute("SELECT value FROM settings WHERE key = 'dr.marker'").fetchone()
    finally:
        conn.close()
    assert row is not None and "from A" in row[0]


@pytest.mark.slow
def test_documented_plain_restore_with_the_key_files(tmp_path: Path) -> None:
    """The plain-archive recipe: signing key in place first, restore, token key back."""
    a, b = tmp_path / "machine-a", tmp_path / "machine-b"
    for d in (a, b):
        (d / "config").mkdir(parents=True)
        (d / "config" / "soulspot.toml").write_text("")
    made = run([SOULSPOT, "backup", "create"], cwd=a)
    assert made.returncode == 0, made.stderr
    backup_id = made.stdout.strip().splitlines()[-1]
    (archive,) = (a / "data" / "backups").glob(f"*{backup_id}*.tar")
    safe = tmp_path / "safe-place"
    safe.mkdir()
    (safe / "backup-signing.key").write_bytes(
        (a / "data" / "keys" / "backup-signing.key").read_bytes()
    )
    from cryptography.fernet import Fernet

    (safe / "spotify_token_keys").write_bytes(Fernet.generate_key() + b"\n")  # A's token key

    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S)
    plain = next(b for b in blocks if "backup-signing.key" in b)
    script = plain.replace("/safe/place", str(safe))
    script = re.sub(r"/mnt/usb/\S+", str(archive), script)
    done = run(["bash", "-c", "set -euo pipefail\n" + script], cwd=b)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"restored {backup_id}" in done.stdout
    for name in ("backup-signing.key", "spotify_token_keys"):
        kept = b / "data" / "keys" / name
        assert kept.read_bytes() == (safe / name).read_bytes()
        assert kept.stat().st_mode & 0o777 == 0o600
