"""The drill of docs/operations/disaster-recovery.md, "A new machine from the replica": the
owner signs in on machine A, which serves with replication on; writes land; A dies
(SIGKILL of ``soulspot serve``) and its data directory is gone. On the new machine the
database is restored to an earlier moment, then to the last second, from the replica alone,
and the owner signs in again (local OAuth provider) while a stranger is refused."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from flask import Flask
from replication_support import pid_alive, poll, read_rows, serving, write_rows

from soulspot import api
from soulspot.cli import cli
from soulspot.testing import build_app
from support.oauth_provider import LocalOAuthProvider

DR_DOC = Path(__file__).resolve().parents[3] / "docs" / "operations" / "disaster-recovery.md"
BASE = "http://127.0.0.1:8765"
REDIRECT_URI = BASE + "/auth/callback"


def sign_in(app: Flask) -> Any:
    """The owner's sign-in through the local provider (what a browser does)."""
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": "127.0.0.1"})
    login = client.get("/auth/login?next=/", base_url=BASE)
    assert login.status_code == 302, login.get_data(as_text=True)
    answer = requests.get(login.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    signed = client.get(answer.headers["Location"][len(BASE) :], base_url=BASE)
    return signed, client


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_new_machine_from_the_replica(tmp_path: Path) -> None:
    replica = tmp_path / "nas" / "soulspot"
    with LocalOAuthProvider(redirect_uris=[REDIRECT_URI]) as provider:
        config = tmp_path / "soulspot.toml"
        lines = ["[plugins.spotify]"]
        lines += [f'{k} = "{v}"' for k, v in provider.client_config().items()]
        lines += ["", "[plugins.replication]", f'replica_url = "file://{replica}"']
        lines += ['sync_interval = "100ms"', ""]
        config.write_text("\n".join(lines))
        data = tmp_path / "data"

        # --- machine A: the owner signs in, then serve replicates every write ---------------
        a = build_app(data, config_path=config)
        signed, _client = sign_in(a)
        assert signed.status_code == 302
        with a.app_context():
            api.storage().close()
        with serving(config, data) as server:
            db = data / "soulspot.db"
            early = [f"early {i}" for i in range(20)]
            late = [f"late {i}" for i in range(20)]
            write_rows(db, "drill", early)
            poll("the early writes in the replica", lambda: server.replica_rows("drill") == early)
            earlier = time.time()  # a moment between the two batches
            write_rows(db, "drill", late)
            poll("the late writes too", lambda: server.replica_rows("drill") == early + late)
            litestream = server.litestream_pid()
            server.proc.send_signal(signal.SIGKILL)  # the machine dies
            server.proc.wait()
            poll("litestream gone with serve", lambda: not pid_alive(litestream), deadline=15)
        shutil.rmtree(data)  # and its disk with it

        # --- the new machine: only the config file and the replica, as the runbook says --------
        runbook = DR_DOC.read_text().split("## A new machine from the replica")[1]
        for command in ("backup restore --latest --dry-run", "backup restore --latest --yes"):
            assert f"soulspot {command}" in runbook
        assert "soulspot backup restore --at 2026-12-03T17:20:00Z --yes" in runbook
        runner = CliRunner()
        env = {"SOULSPOT_CONFIG": str(config), "SOULSPOT__KERNEL__DATA_DIR": str(data)}
        when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(earlier))
        when += f".{int(earlier % 1 * 1000):03d}Z"
        dry = runner.invoke(cli, ["backup", "restore", "--latest", "--dry-run"], env=env)
        assert dry.exit_code == 0 and "nothing was changed (dry run)" in dry.stdout, dry.output
        back = runner.invoke(cli, ["backup", "restore", "--at", when, "--yes"], env=env)
        assert back.exit_code == 0, back.output
        assert "restored the database as of" in back.stdout
        assert read_rows(data / "soulspot.db", "drill") == early

        latest = runner.invoke(cli, ["backup", "restore", "--latest", "--yes"], env=env)
        assert latest.exit_code == 0, latest.output
        marks = read_rows(data / "soulspot.db", "drill")
        assert marks == early + late
        listed = runner.invoke(cli, ["backup", "list"], env=env)
        pre_restores = [line for line in listed.stdout.splitlines() if " pre-restore " in line]
        assert len(pre_restores) == 2  # each restore kept the way back

        # --- the owner signs in again; a stranger does not -------------------------------------
        b = build_app(data, config_path=config)
        provider.next_user = "bob"
        refused, _ = sign_in(b)
        assert refused.status_code == 403
        provider.next_user = "alice"
        again, client = sign_in(b)
        assert again.status_code == 302
        assert client.get("/", base_url=BASE).status_code == 200
        with b.app_context():
            api.storage().close()
