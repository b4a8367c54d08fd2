"""Point-in-time restores from the replica (``[plugins.replication]`` on): the Backups page
shows the restorable window with a time picker, a dry run reports what a moment holds, and a
restore to a moment replaces the database like a snapshot restore does (pre-restore backup
first); the CLI refuses bad moments and restores without a replica with clear messages.

The replica is made by the real Litestream (``replicate -once``, what ``soulspot serve``
runs continuously) from the app's database."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from soulspot import api
from soulspot.testing import SAME_ORIGIN

LITESTREAM = str(Path(sys.executable).parent / "litestream")
OFF = ["spotify", "library", "collection"]


def _replicate_once(app: Flask) -> None:
    config = Path(api_data_dir(app)) / "replication" / "litestream.json"
    done = subprocess.run(
        [LITESTREAM, "replicate", "-once", "-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def api_data_dir(app: Flask) -> Path:
    with app.app_context():
        return api.data_dir()


def _setting(app: Flask, key: str) -> object:
    with app.app_context():
        return api.storage().settings.get(key)


def _set(app: Flask, key: str, value: str) -> None:
    with app.app_context():
        api.storage().settings.set(key, value)


@pytest.fixture
def replicated(make_app, tmp_path: Path) -> Flask:
    """An app whose replica holds ``pit.marker = "replicated"``; the live database has moved
    on to ``"not replicated"`` since."""
    config = {"plugins": {"replication": {"replica_url": f"file://{tmp_path}/replica"}}}
    app = make_app(config, disable=OFF)
    _set(app, "pit.marker", "replicated")
    _replicate_once(app)
    _set(app, "pit.marker", "not replicated")
    return app


def test_the_backups_page_restores_to_a_moment(replicated: Flask) -> None:
    client = replicated.test_client()
    dashboard = client.get("/").get_data(as_text=True)
    assert "Point-in-time recovery" in dashboard and "Restorable from" in dashboard
    page = client.get("/backups").get_data(as_text=True)
    assert "Restore to a moment" in page
    latest = re.search(r'<time id="pit-latest">([^<]+)</time>', page)
    assert latest is not None
    picker = re.search(r'id="pit-at" name="at" type="datetime-local" step="1" [^>]*>', page)
    assert picker is not None and f'max="{latest.group(1)[:19]}"' in picker.group(0)

    dry = client.post(
        "/backups/restore-point",
        data={"at": latest.group(1)[:19], "dry_run": "1"},
        headers=SAME_ORIGIN,
    )
    assert dry.status_code == 200
    report = dry.get_data(as_text=True)
    assert "integrity ok" in report and re.search(r"<code>settings</code>: \d+ rows", report)
    assert _setting(replicated, "pit.marker") == "not replicated"  # a dry run changes nothing

    refused = client.post(
        "/backups/restore-point", data={"at": latest.group(1)[:19]}, headers=SAME_ORIGIN
    )
    assert refused.status_code == 422  # no confirmation word

    done = client.post(
        "/backups/restore-point",
        data={"at": latest.group(1)[:19], "confirm": "restore"},
        headers=SAME_ORIGIN,
    )
    assert done.status_code == 302
    assert "Database restored as of" in client.get("/backups").get_data(as_text=True)
    assert _setting(replicated, "pit.marker") == "replicated"
    listed = client.get("/api/backups").get_json()["backups"]
    assert "pre-restore" in [b["trigger"] for b in listed]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--at", "yesterday"], 2, "is not an ISO 8601 moment"),
        # the ends of the calendar: no UTC moment exists (was an OverflowError traceback)
        (["--at", "9999-12-31T23:59:59-01:00", "--dry-run"], 2, "is not an ISO 8601 moment"),
        (["--at", "0001-01-01T00:00:00+01:00", "--dry-run"], 2, "is not an ISO 8601 moment"),
        (["--at", "2001-01-01T00:00:00Z", "--yes"], 1, "holds nothing yet: nothing was restored"),
        (["--latest", "some-backup-id"], 2, "exactly one"),
        ([], 2, "name what to restore"),
        (["some-backup-id", "--dry-run"], 2, "--dry-run is for --at/--latest"),
    ],
)
def test_bad_restore_requests_are_refused_clearly(
    run_cli, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    config = {"plugins": {"replication": {"replica_url": f"file://{tmp_path}/replica"}}}
    assert run_cli(["db", "upgrade"], config=config, disable=OFF).exit_code == 0
    result = run_cli(["backup", "restore", *args], config=config, disable=OFF)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_restore_to_a_moment_needs_a_replica(run_cli) -> None:
    result = run_cli(["backup", "restore", "--latest", "--dry-run"], disable=OFF)
    assert result.exit_code == 1
    assert "set [plugins.replication] replica_url" in result.output
