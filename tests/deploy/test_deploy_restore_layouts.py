"""Restore in the documented deployments, run as the service user: the systemd layout (config
in a root-owned /etc/soulspot, data in /var/lib/soulspot owned by the service user) and the
container's read-only layout (nothing written outside the data volume and /tmp).

Needs root to create the service user (this suite runs as root). Docker cannot run here, so
the container layout is the image's environment without the image (as the other container
tests do): the read-only guard reports every write outside the data dir and /tmp."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_support import SOULSPOT, clean_env

GUARD = str(Path(__file__).with_name("readonly_guard.py"))


class Layout:
    """``/etc/soulspot`` and ``/var/lib/soulspot`` under a temp root, and a system user."""

    def __init__(self, root: Path, user: str) -> None:
        self.root = root
        self.user = user
        self.uid = pwd.getpwnam(user).pw_uid
        self.etc = root / "etc" / "soulspot"
        self.data = root / "var" / "lib" / "soulspot"
        self.tmp = root / "tmp"
        self.etc.mkdir(parents=True)
        self.config = self.etc / "soulspot.toml"
        self.config.write_text("[plugins.backup]\nkeep_last = 3\n")
        self.config.chmod(0o644)  # root's, readable: as the deployment guide installs it
        for folder in (self.data, self.tmp):
            folder.mkdir(parents=True, mode=0o700)
            os.chown(folder, self.uid, -1)

    def env(self) -> dict[str, str]:
        return clean_env(
            {
                "SOULSPOT_CONFIG": str(self.config),
                "SOULSPOT__KERNEL__DATA_DIR": str(self.data),
                "SOULSPOT_DISABLE_PLUGINS": "spotify,library,collection",
                "HOME": "/nonexistent",
                "TMPDIR": str(self.tmp),
            }
        )

    def run(self, *args: str, as_root: bool = False) -> subprocess.CompletedProcess[str]:
        prefix = [] if as_root else [*_reachable_python(), "runuser", "-u", self.user, "--"]
        return subprocess.run(
            [*prefix, *args],
            cwd=self.data,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def owners(self) -> set[int]:
        return {p.lstat().st_uid for p in [self.data, *self.data.rglob("*")]}


def _reachable_python() -> list[str]:
    """On this machine the interpreter lives under ``/root`` (mode 0700), which no service
    user may enter. Then the command runs in a private mount namespace where ``/root`` shows
    only the interpreter's tree (nothing changes for any other process)."""
    base = Path(sys.base_prefix).resolve()
    if not str(base).startswith("/root/"):
        return []
    top = base.relative_to("/root").parts[0]
    script = (
        'set -e; m=$(mktemp -d); mount -t tmpfs -o mode=0755 tmpfs "$m"; '
        f'mkdir "$m/{top}"; mount --bind "/root/{top}" "$m/{top}"; mount --rbind "$m" /root; '
        'exec "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]


@pytest.fixture
def layout() -> Iterator[Layout]:
    user = f"ss-restore-{secrets.token_hex(3)}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
        check=True,
        capture_output=True,
    )
    root = Path(tempfile.mkdtemp(prefix="soulspot-layout-", dir="/tmp"))
    root.chmod(0o755)  # the service user must reach its folders, as under / in production
    try:
        yield Layout(root, user)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["userdel", user], capture_output=True)


@pytest.mark.slow
def test_systemd_layout_restore_as_the_service_user(layout: Layout) -> None:
    created = layout.run(SOULSPOT, "backup", "create")
    assert created.returncode == 0, created.stderr
    backup_id = created.stdout.strip()

    restored = layout.run(SOULSPOT, "backup", "restore", backup_id, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert f"note: the config file was not restored ({layout.config} is not writable" in (
        restored.stderr
    )
    assert "restored" in restored.stdout and "database" in restored.stdout
    assert layout.config.read_text() == "[plugins.backup]\nkeep_last = 3\n"  # untouched

    skipped = layout.run(SOULSPOT, "backup", "restore", backup_id, "--skip-config", "--yes")
    assert skipped.returncode == 0, skipped.stderr
    assert "not restored (--skip-config)" in skipped.stderr

    as_root = layout.run(SOULSPOT, "backup", "restore", backup_id, "--yes", as_root=True)
    assert as_root.returncode == 1
    assert "refusing to restore as root" in as_root.stderr
    assert f"sudo -u {layout.user} soulspot backup restore" in as_root.stderr
    assert "Traceback" not in as_root.stderr
    assert layout.owners() == {layout.uid}  # nothing in the data dir changed hands

    # a database made root's by hand: `serve` says what is wrong instead of a traceback
    db = layout.data / "soulspot.db"
    os.chown(db, 0, 0)
    served = layout.run(SOULSPOT, "serve", "--port", "0")
    assert served.returncode == 2, served.stderr
    assert "Traceback" not in served.stderr
    assert str(db) in served.stderr and "owned by root" in served.stderr


@pytest.mark.slow
def test_container_layout_restore_writes_only_the_data_volume(layout: Layout) -> None:
    created = layout.run(SOULSPOT, "backup", "create")
    assert created.returncode == 0, created.stderr
    backup_id = created.stdout.strip()
    guarded = layout.run(
        sys.executable,
        GUARD,
        f"{layout.data}:{layout.tmp}",
        "backup",
        "restore",
        backup_id,
        "--yes",
    )
    assert guarded.returncode == 0, guarded.stderr
    assert "READONLY-VIOLATION" not in guarded.stderr, guarded.stderr
    assert "config file was not restored" in guarded.stderr
    assert layout.owners() == {layout.uid}
