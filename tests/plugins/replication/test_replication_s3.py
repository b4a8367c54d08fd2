"""``soulspot serve`` replicating to S3-compatible storage (moto's server on 127.0.0.1), the
keys given as ``_FILE`` secrets: Litestream runs as serve's child, its lines are our JSON
lines, it is started again when it dies; health, metrics and ``/api/replication`` show the
replica; SoulSpot's own checkpointing and a snapshot backup taken while it replicates do not
fight it (a dry run of ``--latest`` holds every committed row, the backup verifies)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from moto.server import ThreadedMotoServer
from replication_support import (
    Server,
    count_rows,
    free_port,
    get_json,
    get_text,
    pid_alive,
    poll,
    read_rows,
    serving,
    write_rows,
)

from soulspot.cli import cli

KEY_ID, SECRET = "AKIATESTREPLICATION", "test-secret-never-logged"


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, dict]]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
        ).create_bucket(Bucket="soulspot-replica")
        root = tmp_path_factory.mktemp("s3")
        secrets = root / "secrets"
        secrets.mkdir()
        (secrets / "key_id").write_text(KEY_ID + "\n")
        (secrets / "secret").write_text(SECRET + "\n")
        config = root / "soulspot.toml"
        config.write_text(
            "[plugins.replication]\n"
            'replica_url = "s3://soulspot-replica/machine-a"\n'
            'sync_interval = "100ms"\n'
            f's3_endpoint = "{endpoint}"\n'
            's3_region = "us-east-1"\n'
            "s3_force_path_style = true\n"
        )
        env = {
            "SOULSPOT_DISABLE_PLUGINS": "spotify,library,collection",
            "SOULSPOT__REPLICATION__S3_ACCESS_KEY_ID_FILE": str(secrets / "key_id"),
            "SOULSPOT__REPLICATION__S3_SECRET_ACCESS_KEY_FILE": str(secrets / "secret"),
        }
        with serving(config, root / "data", env) as server:
            yield server, config, env
    finally:
        moto.stop()


def test_health_metrics_and_api_show_the_replica(s3_server):
    server, _config, _env = s3_server
    info = poll("a first sync", lambda: (i := server.replication()).get("window") and i)
    assert info["replica"] == "s3://soulspot-replica/machine-a"
    assert info["running"] is True and info["replica_bytes"] > 0
    health = get_json(f"{server.url}/health")
    (check,) = [c for c in health["checks"] if c["name"] == "replication"]
    assert check["status"] == "ok", check
    assert check["details"]["window"]["latest"] == info["window"]["latest"]
    metrics = get_text(f"{server.url}/metrics")
    for name in (
        "soulspot_replication_up 1.0",
        "soulspot_replication_lag_seconds",
        "soulspot_replication_replica_bytes",
        "soulspot_replication_window_seconds",
        "soulspot_replication_last_sync_timestamp_seconds",
    ):
        assert name in metrics, name
    assert SECRET not in json.dumps(health) and SECRET not in metrics


def test_litestream_is_started_again_when_it_dies(s3_server):
    server, _config, _env = s3_server
    first = server.litestream_pid()
    os.kill(first, signal.SIGKILL)
    second = poll(
        "a new litestream",
        lambda: (
            (pid := server.litestream_pid()) != first and server.replication()["running"] and pid
        ),
    )
    assert not pid_alive(first) and pid_alive(second)
    assert server.replication()["restarts"] >= 1


def test_checkpoints_and_a_snapshot_backup_do_not_fight_litestream(s3_server):
    server, config, env = s3_server
    db = server.data_dir / "soulspot.db"
    runner = CliRunner()
    cli_env = {"SOULSPOT_CONFIG": str(config), "SOULSPOT__KERNEL__DATA_DIR": str(server.data_dir)}
    cli_env |= env
    cli_env["AWS_CA_BUNDLE"] = None  # see replication_support.environment
    ballast = "x" * 3000  # ~one page a row: the WAL passes SQLite's 1000-page mark
    write_rows(db, "ballast", [ballast] * 700)
    made = runner.invoke(cli, ["backup", "create"], env=cli_env)  # while Litestream ships
    assert made.exit_code == 0, made.output
    write_rows(db, "ballast", [ballast] * 700)
    keys = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
    poll("the writes in the replica", lambda: len(server.replica_rows("ballast", keys)) == 1400)
    poll("no lag", lambda: server.replication()["lag_seconds"] == 0)
    dry = runner.invoke(cli, ["backup", "restore", "--latest", "--dry-run"], env=cli_env)
    assert dry.exit_code == 0, dry.output
    assert "integrity: ok" in dry.stdout
    assert f"  settings: {count_rows(db, 'settings')} rows" in dry.stdout, dry.stdout
    assert count_rows(db, "settings") >= 1400
    assert "nothing was changed (dry run)" in dry.stdout
    backup_id = made.stdout.strip().splitlines()[-1]
    checked = runner.invoke(cli, ["backup", "verify", backup_id], env=cli_env)
    assert checked.exit_code == 0, checked.output


def test_a_restore_from_the_page_pauses_litestream_and_it_resumes_on_the_restored_file(
    s3_server,
):
    server, _config, _env = s3_server
    keys = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
    db = server.data_dir / "soulspot.db"
    written = write_rows(db, "kept", ["before the restore"])
    poll("the row in the replica", lambda: server.replica_rows("kept", keys))
    before = server.litestream_pid()

    def a_whole_second_later() -> str | None:
        """The window's end, once its whole second (the picker's resolution) is after the
        write: other writes ("tick") move the end on until then."""
        write_rows(db, "tick", ["tick"])
        window = server.replication().get("window")
        latest = window["latest"] if window else None
        if latest and dt.datetime.fromisoformat(latest[:19] + "+00:00").timestamp() > written:
            return str(latest)
        return None

    latest = poll("the window past the write", a_whole_second_later)
    form = urllib.parse.urlencode({"at": latest[:19], "confirm": "restore"}).encode()
    request = urllib.request.Request(
        f"{server.url}/backups/restore-point",
        data=form,
        headers={"Sec-Fetch-Site": "same-origin", "Origin": server.url},
    )
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())  # the flash
    with browser.open(request, timeout=120) as answer:
        assert "Database restored as of" in answer.read().decode()
    assert read_rows(db, "kept") == ["before the restore"]
    # /health answers from its cache for a moment: wait for an answer made after the swap
    after = poll(
        "litestream again",
        lambda: server.replication().get("running")
        and server.litestream_pid() != before
        and server.litestream_pid(),
    )
    assert after != before  # stopped for the swap, started on the restored file
    write_rows(db, "kept", ["after the restore"])
    poll(
        "replication going on from the restored file",
        lambda: server.replica_rows("kept", keys) == ["before the restore", "after the restore"],
    )


def test_a_snapshot_restore_from_the_page_pauses_litestream_too(s3_server):
    """A restore of an archive swaps the database file as a point-in-time restore does:
    Litestream stops for the swap and carries on from the restored file (left running, it
    kept the replaced file's WAL and shipped nothing more)."""
    server, config, env = s3_server
    keys = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
    db = server.data_dir / "soulspot.db"
    write_rows(db, "snap", ["in the archive"])
    cli_env = {"SOULSPOT_CONFIG": str(config), "SOULSPOT__KERNEL__DATA_DIR": str(server.data_dir)}
    cli_env |= env
    cli_env["AWS_CA_BUNDLE"] = None  # see replication_support.environment
    made = CliRunner().invoke(cli, ["backup", "create"], env=cli_env)
    assert made.exit_code == 0, made.output
    backup_id = made.stdout.strip().splitlines()[-1]
    before = server.litestream_pid()
    request = urllib.request.Request(
        f"{server.url}/backups/{backup_id}/restore",
        data=urllib.parse.urlencode({"confirm": "restore"}).encode(),
        headers={"Sec-Fetch-Site": "same-origin", "Origin": server.url},
    )
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())  # the flash
    with browser.open(request, timeout=120) as answer:
        assert f"Backup {backup_id} restored" in answer.read().decode()
    after = poll(
        "litestream on the restored file",
        lambda: server.replication().get("running")
        and server.litestream_pid() != before
        and server.litestream_pid(),
    )
    assert after != before
    write_rows(db, "snap", ["after the restore"])
    poll(
        "writes after the restore in the replica",
        lambda: server.replica_rows("snap", keys) == ["in the archive", "after the restore"],
    )
