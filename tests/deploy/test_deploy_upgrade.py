"""``soulspot-upgrade`` against a real data directory, with two wheels built from this tree:
the current version and a "next" one whose migration fails on duplicate data.

The real ``soulspot serve`` runs from the release the ``current`` link names, on a socket
held by ``systemd-socket-activate``, restarted by the supervisor stand-in (systemd cannot be
PID 1 here). The broken upgrade must end on the old version with the data as before and
every acknowledged write kept; once the data is fixed, the same upgrade ends on the new one.
A third version migrates but never becomes ready and cannot downgrade: its rollback restores
the pre-upgrade backup. Throughout, a client loop sees no refused connection and no 5xx.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploy_support import REPO, clean_env, doc_block, run
from socket_support import ClientLoop, ctl_command, get, socket_service, wait_ready
from upgrade_support import (
    dependencies_folder,
    finish_wheel_build,
    start_wheel_build,
)

import soulspot

UPGRADE_MD = REPO / "docs" / "operations" / "upgrade.md"


@dataclass(frozen=True)
class Builds:
    current: Path
    next: Path
    next_version: str
    never_ready: Path
    never_ready_version: str
    deps: Path
    first_venv: Path  # releases/<current>, made by the documented `python3 -m venv`


@pytest.fixture(scope="session")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    """Both wheels and the first release's venv, built once and side by side (slow)."""
    work = tmp_path_factory.mktemp("upgrade-builds")
    deps = dependencies_folder(work / "deps")
    root = work / "template-root"
    venv_env = clean_env({"ROOT": str(root), "VERSION": soulspot.__version__})
    venv = subprocess.Popen(
        ["bash", "-c", "set -euo pipefail\n" + doc_block(UPGRADE_MD, "first-release-venv")],
        env=venv_env,
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    builds = [start_wheel_build(work, drill=drill) for drill in (0, 1, 2)]
    current, following, never = (finish_wheel_build(*build) for build in builds)
    out, _ = venv.communicate(timeout=300)
    assert venv.returncode == 0, out
    return Builds(
        current, following, builds[1][2], never, builds[2][2], deps, root / "releases"
    )


@dataclass
class Install:
    root: Path
    data: Path
    url: str
    env: dict[str, str]

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data / "soulspot.db", timeout=30)

    def current(self) -> str:
        return os.readlink(self.root / "current")

    def upgrade(self, wheel: Path) -> subprocess.CompletedProcess[str]:
        return run(
            ["bash", "-c", "set -euo pipefail\n" + doc_block(UPGRADE_MD, "upgrade-auto")],
            cwd=self.root,
            env={**self.env, "WHEEL": str(wheel)},
            timeout=240,
        )

    def running_version(self) -> str:
        status, body = get(f"{self.url}/health")
        assert status == 200, body
        return str(json.loads(body)["versions"]["soulspot"])


@pytest.fixture
def install(tmp_path: Path, builds: Builds) -> Iterator[Install]:
    """The current version installed as upgrade.md's "First release" says, serving."""
    import shutil

    root, data = tmp_path / "opt", tmp_path / "data"
    (root / "releases").mkdir(parents=True)
    # the venv the documented `python3 -m venv` made in the session fixture (slow to make)
    shutil.copytree(builds.first_venv, root / "releases", symlinks=True, dirs_exist_ok=True)
    _fix_venv_paths(builds.first_venv, root / "releases")
    env = {
        "PYTHONPATH": str(builds.deps),  # the dependencies, offline
        "PIP_NO_INDEX": "1",
        "PIP_NO_DEPS": "1",
        "SOULSPOT__KERNEL__DATA_DIR": str(data),
        "ROOT": str(root),
        "VERSION": soulspot.__version__,
        "WHEEL": str(builds.current),
    }
    first = run(
        ["bash", "-c", "set -euo pipefail\n" + doc_block(UPGRADE_MD, "first-release")],
        cwd=tmp_path,
        env=env,
        timeout=240,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.strip().endswith(soulspot.__version__), first.stdout
    with socket_service(tmp_path, env, [str(root / "bin" / "soulspot"), "serve"]) as (
        url,
        state,
    ):
        wait_ready(url)
        env.update(
            {
                "SOULSPOT_UPGRADE_ROOT": str(root),
                "SOULSPOT_UPGRADE_URL": url,
                "SOULSPOT_UPGRADE_DATA_DIR": str(data),
                "SOULSPOT_UPGRADE_RESTART_COMMAND": ctl_command(state, "restart"),
                "SOULSPOT_UPGRADE_STOP_COMMAND": ctl_command(state, "stop"),
                "SOULSPOT_UPGRADE_START_COMMAND": ctl_command(state, "start"),
                "SOULSPOT_UPGRADE_RESTARTS_COMMAND": ctl_command(state, "restarts"),
                "SOULSPOT_UPGRADE_READY_TIMEOUT": "90",
                "SOULSPOT_UPGRADE_SETTLE": "1",
                "SOULSPOT_UPGRADE_MAX_RESTARTS": "1",
                "SOULSPOT_UPGRADE_WITHOUT_PIP": "1",
            }
        )
        yield Install(root, data, url, env)


def _fix_venv_paths(template: Path, releases: Path) -> None:
    """A venv's scripts name their interpreter by absolute path: point them at the copy."""
    for script in releases.glob("*/bin/*"):
        if script.is_file() and not script.is_symlink():
            text = script.read_bytes()
            if text.startswith(b"#!") and str(template).encode() in text:
                script.write_bytes(text.replace(str(template).encode(), str(releases).encode()))


class Writer:
    """Writes rows one after another; a row counts once its transaction committed."""

    def __init__(self, install: Install, tag: str) -> None:
        self.install = install
        self.tag = tag
        self.acknowledged: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        conn = self.install.db()
        n = 0
        while not self.stop.is_set():
            body = f"{self.tag}-{n}"
            try:
                with conn:
                    conn.execute("INSERT INTO drill_note (body) VALUES (?)", (body,))
            except sqlite3.OperationalError:  # locked by a migration or restore: try again
                continue
            self.acknowledged.append(body)
            n += 1
            self.stop.wait(0.02)
        conn.close()

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def bodies(install: Install) -> list[str]:
    conn = install.db()
    try:
        return [row[0] for row in conn.execute("SELECT body FROM drill_note ORDER BY id")]
    finally:
        conn.close()


def schema(install: Install) -> dict[str, int]:
    conn = install.db()
    try:
        return dict(conn.execute("SELECT plugin, version FROM schema_versions").fetchall())
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_broken_upgrades_roll_back_and_a_good_one_goes_through(
    install: Install, builds: Builds
) -> None:
    old = soulspot.__version__
    conn = install.db()
    with conn:
        conn.execute("CREATE TABLE drill_note (id INTEGER PRIMARY KEY, body TEXT)")
        conn.executemany(
            "INSERT INTO drill_note (body) VALUES (?)", [("same",), ("same",), ("other",)]
        )
    conn.close()
    schema_before = schema(install)
    assert "backup" not in schema_before

    # --- the next version's migration fails on the duplicates: it rolls back by itself ----
    clients = ClientLoop(f"{install.url}/health/live", timeout=180)
    with clients.running() as loop, Writer(install, "first") as writer:
        broken = install.upgrade(builds.next)
    assert broken.returncode == 1, broken.stderr[-4000:]
    last = broken.stderr.strip().splitlines()[-1]
    assert f"ROLLED BACK {builds.next_version} -> {old}" in last, last
    assert "crash-loops" in broken.stderr, broken.stderr[-3000:]
    assert install.current() == f"releases/{old}"
    assert install.running_version() == old
    assert get(f"{install.url}/health/ready")[0] == 200
    # The data as before, and every write acknowledged during the attempt kept.
    assert schema(install) == schema_before
    rows = bodies(install)
    assert rows[:3] == ["same", "same", "other"]
    assert writer.acknowledged and set(writer.acknowledged) <= set(rows)
    assert loop.failures() == [], loop.failures()[:5]
    # The operator is told: audit event and deploy status, recorded with the old version.
    events = run(
        [
            *(str(install.root / "bin" / "soulspot"), "audit", "export"),
            *("--since", "1h", "--event", "deploy.rolled_back"),
        ],
        cwd=install.root,
        env=install.env,
    )
    assert events.returncode == 0, events.stderr
    [event] = [json.loads(line) for line in events.stdout.splitlines()]
    assert event["outcome"] == "failed"
    assert event["details"]["to_version"] == builds.next_version
    assert "crash-loops" in event["details"]["reason"]
    status, metrics = get(f"{install.url}/metrics")
    assert status == 200
    failed_at = _gauge(metrics, "soulspot_deploy_last_failure_timestamp_seconds")
    assert failed_at > 0 and _gauge(metrics, "soulspot_deploy_last_success_timestamp_seconds") == 0
    [record] = (install.root / "upgrades").iterdir()
    assert (record / "backup-before-upgrade.id").read_text().strip()
    assert json.loads((record / "schema-before-upgrade.json").read_text())["plugins"]

    # --- the operator removes the duplicate; the same upgrade now goes through ------------
    conn = install.db()
    with conn:
        conn.execute("DELETE FROM drill_note WHERE body = 'same' AND id = 2")
    conn.close()
    clients = ClientLoop(f"{install.url}/health/live", timeout=180)
    with clients.running() as loop, Writer(install, "second") as writer:
        good = install.upgrade(builds.next)
    assert good.returncode == 0, good.stderr[-4000:]
    assert f"UPGRADED {old} -> {builds.next_version}" in good.stderr.strip().splitlines()[-1]
    assert install.current() == f"releases/{builds.next_version}"
    assert install.running_version() == builds.next_version
    assert schema(install)["backup"] == 1
    assert set(writer.acknowledged) <= set(bodies(install))
    assert loop.failures() == [], loop.failures()[:5]
    status, metrics = get(f"{install.url}/metrics")
    assert _gauge(metrics, "soulspot_deploy_last_success_timestamp_seconds") > failed_at

    # --- a version that migrates, never becomes ready and cannot downgrade: the rollback
    # restores the pre-upgrade backup and keeps the newer database aside ------------------
    newer = builds.never_ready_version
    rows_before = bodies(install)
    install.env["SOULSPOT_UPGRADE_READY_TIMEOUT"] = "15"
    clients = ClientLoop(f"{install.url}/health/live", timeout=180)
    with clients.running() as loop:
        restored = install.upgrade(builds.never_ready)
    assert restored.returncode == 1, restored.stderr[-4000:]
    assert f"ROLLED BACK {newer} -> {builds.next_version}" in restored.stderr
    assert "not ready within 15s" in restored.stderr and "drill" in restored.stderr
    assert "downgrade failed" in restored.stderr and "backup" in restored.stderr
    assert install.current() == f"releases/{builds.next_version}"
    assert install.running_version() == builds.next_version
    assert schema(install)["backup"] == 1  # as before the attempt: schema 2 is gone
    assert bodies(install) == rows_before
    [aside] = (install.data / "set-aside").iterdir()
    assert (aside / "soulspot.db").is_file()
    assert loop.failures() == [], loop.failures()[:5]


def _gauge(metrics: bytes, name: str) -> float:
    for line in metrics.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")
