"""``soulspot backup ...`` as the owner types it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from soulspot.cli import cli


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "soulspot.toml"
    path.write_text(
        f'[kernel]\ndata_dir = "{tmp_path / "data"}"\n\n[plugins.spotify]\nenabled = false\n'
        "\n[plugins.library]\nenabled = false\n"  # the library needs the auth concern
        "\n[plugins.collection]\nenabled = false\n"  # and the collection the library
    )
    return path


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    clean = {"SOULSPOT_BACKUP_PASSPHRASE": None, "SOULSPOT_CONFIG": None, **(env or {})}
    return CliRunner().invoke(cli, ["--config", str(config), "backup", *args], env=clean)


@pytest.mark.slow
def test_create_list_verify_restore_delete(config: Path) -> None:
    created = run(config, "create")
    assert created.exit_code == 0, created.output
    backup_id = created.stdout.strip()
    assert "\n" not in backup_id and "-manual-" in backup_id  # stdout: just the id
    assert "snapshot of database" in created.stderr and "verifying" in created.stderr

    listed = run(config, "list", "--json")
    assert listed.exit_code == 0
    (entry,) = json.loads(listed.stdout)
    assert entry["id"] == backup_id and entry["verified"] is True and entry["trigger"] == "manual"
    assert entry["size"] > 0 and entry["encrypted"] is False
    table = run(config, "list").stdout
    assert "TRIGGER" in table and backup_id in table and " ok" in table

    verified = run(config, "verify", backup_id)
    assert verified.exit_code == 0 and "sound" in verified.stdout

    refused = run(config, "restore", backup_id)
    assert refused.exit_code == 1 and "Refusing without --yes" in refused.stderr
    restored = run(config, "restore", backup_id, "--yes")
    assert restored.exit_code == 0, restored.output
    assert f"restored {backup_id}" in restored.stdout and "pre-restore" in restored.stdout

    pruned = run(config, "prune")
    assert pruned.exit_code == 0 and "pruned 0 backup(s)" in pruned.stdout

    refused = run(config, "delete", backup_id)
    assert refused.exit_code == 1 and "Refusing without --yes" in refused.stderr
    deleted = run(config, "delete", backup_id, "--yes")
    assert deleted.exit_code == 0 and f"deleted {backup_id}" in deleted.stdout
    ids = [b["id"] for b in json.loads(run(config, "list", "--json").stdout)]
    assert backup_id not in ids and len(ids) == 1  # the pre-restore backup stays


@pytest.mark.slow
def test_encrypted_backup_needs_its_passphrase(config: Path) -> None:
    created = run(config, "create", env={"SOULSPOT_BACKUP_PASSPHRASE": "open sesame 42"})
    assert created.exit_code == 0, created.output
    backup_id = created.stdout.strip()
    assert "encrypted" in created.stderr
    (entry,) = json.loads(run(config, "list", "--json").stdout)
    assert entry["encrypted"] is True and entry["file"].endswith(".tar.enc")

    missing = run(config, "verify", backup_id)
    assert missing.exit_code == 2 and "needs a passphrase" in missing.stderr
    wrong = run(config, "restore", backup_id, "--yes", "--passphrase", "guess")
    assert wrong.exit_code == 1
    assert "wrong passphrase" in wrong.stderr and "Traceback" not in wrong.output
    right = run(config, "verify", backup_id, env={"SOULSPOT_BACKUP_PASSPHRASE": "open sesame 42"})
    assert right.exit_code == 0, right.output


def test_damaged_archives_and_bad_ids_are_refused_clearly(config: Path) -> None:
    backup_id = run(config, "create").stdout.strip()
    archive = next((config.parent / "data" / "backups").glob("*.tar"))
    archive.write_bytes(archive.read_bytes()[:-3000])
    restored = run(config, "restore", backup_id, "--yes")
    assert restored.exit_code == 1
    assert "damaged and was not restored" in restored.stderr and "truncated" in restored.stderr
    verify = run(config, "verify", backup_id)
    assert verify.exit_code == 1 and "do not restore it" in verify.stderr
    bad = run(config, "verify", "nope")
    assert bad.exit_code == 1 and "neither a backup id nor an archive file" in bad.stderr
    gone = run(config, "delete", "20200101T000000Z-manual-abcdef", "--yes")
    assert gone.exit_code == 1 and "no backup" in gone.stderr
    listed = json.loads(run(config, "list", "--json").stdout)
    assert listed[0]["verified"] is False and listed[0]["problems"]


def test_help_lists_every_subcommand(config: Path) -> None:
    result = run(config, "--help")
    for name in ("create", "list", "verify", "restore", "prune", "delete"):
        assert name in result.stdout


def _store_app(config: Path) -> Any:
    from soulspot.testing import build_app

    return build_app(config.parent / "data", config_path=config)


def _setting(app: Any, value: str | None = None) -> Any:
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection():
        if value is not None:
            store.settings.set("probe", value)
        return store.settings.get("probe")


def test_restore_works_when_the_database_cannot_even_be_opened(config: Path) -> None:
    app = _store_app(config)
    _setting(app, "before")
    app.extensions["soulspot"].storage.close()
    backup_id = run(config, "create").stdout.strip()
    app = _store_app(config)
    _setting(app, "after")
    db = Path(app.extensions["soulspot"].storage.path)
    app.extensions["soulspot"].storage.close()
    damaged = b"\xde\xad" * 4096 + db.read_bytes()[8192:]
    db.write_bytes(damaged)
    with pytest.raises(Exception, match="not a database"):
        _store_app(config)  # SoulSpot cannot start on it

    restored = run(config, "restore", backup_id, "--yes")
    assert restored.exit_code == 0, restored.output
    assert "set aside" in restored.stderr
    assert _setting(_store_app(config)) == "before"
    (aside,) = (config.parent / "data" / "backups").glob("set-aside-*")
    assert (aside / db.name).read_bytes()[:8192] == damaged[:8192]  # kept as it was


def test_restore_from_the_cli_refuses_while_soulspot_serves(config: Path) -> None:
    backup_id = run(config, "create").stdout.strip()
    server = _store_app(config)
    hook = server.extensions["soulspot"].hook
    hook.before_serve(app=server)  # what `soulspot serve` calls
    try:
        refused = run(config, "restore", backup_id, "--yes")
        assert refused.exit_code == 1
        assert (
            "stop `soulspot serve` first" in refused.stderr
            and "nothing was changed" in refused.stderr
        )
        listed = json.loads(run(config, "list", "--json").stdout)
        assert [b["trigger"] for b in listed] == ["manual"]  # no pre-restore: refused up front
    finally:
        with server.app_context():
            hook.shutdown(app=server)  # as `soulspot serve` does on the way out


def test_verify_an_archive_path_prune_confirms_and_a_bad_dir_exits_2(
    config: Path, tmp_path: Path
) -> None:
    assert run(config, "create").exit_code == 0
    archive = next((tmp_path / "data" / "backups").glob("*.tar"))
    copy = tmp_path / "usb" / archive.name
    copy.parent.mkdir()
    copy.write_bytes(archive.read_bytes())
    verified = run(config, "verify", str(copy))  # the copy you will restore from
    assert verified.exit_code == 0, verified.output
    assert "verified: sound" in verified.stdout
    data = bytearray(copy.read_bytes())
    data[-3000] ^= 0x01  # one bit of the manifest (it is near the end)
    copy.write_bytes(bytes(data))
    assert run(config, "verify", str(copy)).exit_code == 1
    restored = run(config, "restore", str(copy), "--yes")
    assert restored.exit_code == 1 and "Traceback" not in restored.output

    from soulspot.testing import build_app
    from soulspot_backup.service import service

    app = build_app(
        tmp_path / "data",
        {
            "plugins": {
                "backup": {"keep_last": 1, "keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0}
            }
        },
        disable=["spotify", "library", "collection"],
    )
    with app.app_context():
        for _ in range(2):
            service(app).create("scheduled")
    app.extensions["soulspot"].storage.close()
    pruning = tmp_path / "prune.toml"
    pruning.write_text(
        config.read_text()
        + "\n[plugins.backup]\nkeep_last = 1\nkeep_daily = 0\nkeep_weekly = 0\nkeep_monthly = 0\n"
    )
    count = len(json.loads(run(pruning, "list", "--json").stdout))
    refused = run(pruning, "prune")  # destructive: no terminal, no --yes
    assert refused.exit_code == 1 and "Refusing without --yes" in refused.stderr
    assert len(json.loads(run(pruning, "list", "--json").stdout)) == count  # nothing deleted
    pruned = run(pruning, "prune", "--yes")
    assert pruned.exit_code == 0 and "pruned 1 backup(s)" in pruned.stdout

    bad = tmp_path / "bad.toml"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    bad.write_text(config.read_text() + f'\n[plugins.backup]\ndir = "{blocker / "backups"}"\n')
    listed = CliRunner().invoke(
        cli, ["--config", str(bad), "backup", "list"], env={"SOULSPOT_CONFIG": None}
    )
    assert listed.exit_code == 2, listed.output
    assert "[plugins.backup] dir" in listed.stderr and "cannot be used" in listed.stderr
    assert "Traceback" not in listed.output
