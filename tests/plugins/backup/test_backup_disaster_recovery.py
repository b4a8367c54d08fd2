"""The disaster-recovery drill of docs/operations/disaster-recovery.md, step by step: machine A
signs in and takes a backup (encrypted; or plain, with the key file kept aside); machine B
starts from an empty data dir, restores the archive with the CLI (and puts the key file back),
starts, and the owner signs in again (local OAuth provider)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from click.testing import CliRunner
from flask import Flask

from soulspot.cli import cli
from soulspot.testing import build_app
from soulspot_backup.service import service
from support.oauth_provider import LocalOAuthProvider

BASE = "http://127.0.0.1:8765"
REDIRECT_URI = BASE + "/auth/callback"
PASSPHRASE = "correct horse battery staple"


class Browser:
    """Just enough of a browser to sign in through the local provider (same-origin POSTs)."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        self.client.environ_base.update({"REMOTE_ADDR": "127.0.0.1"})

    def get(self, path: str) -> Any:
        return self.client.get(path, base_url=BASE)

    def post(self, path: str, data: dict[str, str]) -> Any:
        return self.client.post(path, base_url=BASE, data=data, headers={"Origin": BASE})

    def sign_in(self) -> Any:
        login = self.get("/auth/login?next=/")
        assert login.status_code == 302, login.get_data(as_text=True)
        answer = requests.get(login.headers["Location"], allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        callback = answer.headers["Location"]
        assert callback.startswith(REDIRECT_URI), callback
        return self.get(callback[len(BASE) :])

    def cookie(self) -> str | None:
        item = self.client.get_cookie("soulspot_session", domain=urlsplit(BASE).hostname or "")
        return item.value if item is not None else None

    def set_cookie(self, value: str) -> None:
        self.client.set_cookie("soulspot_session", value, domain=urlsplit(BASE).hostname or "")


def _toml(provider: LocalOAuthProvider) -> str:
    lines = ["[plugins.spotify]"]
    for key, value in provider.client_config().items():
        lines.append(f'{key} = "{value}"')
    lines += ["", "[plugins.security]", 'rate_limit_auth = "1000/minute"', ""]
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("secret", ["passphrase", "key file"])
def test_rebuild_on_a_new_machine_from_one_archive_and_sign_in(tmp_path: Path, secret: str) -> None:
    encrypted = secret == "passphrase"
    with LocalOAuthProvider(redirect_uris=[REDIRECT_URI]) as provider:
        # --- machine A: in use, the owner signed in, a backup is taken --------------------
        a_config = tmp_path / "a" / "soulspot.toml"
        a_config.parent.mkdir()
        a_config.write_text(_toml(provider))
        a = build_app(tmp_path / "a" / "data", config_path=a_config)
        alice = Browser(a)
        assert alice.sign_in().status_code == 302
        assert alice.get("/").status_code == 200
        session_cookie = alice.cookie()
        assert session_cookie
        with a.app_context():
            info = service(a).create("manual", PASSPHRASE if encrypted else None)
        assert info.encrypted is encrypted
        a_keys = tmp_path / "a" / "data" / "keys" / "spotify_token_keys"
        a.extensions["soulspot"].storage.close()
        usb = tmp_path / "usb-stick"
        usb.mkdir()
        archive = Path(shutil.copy2(info.path, usb))  # the one file that leaves machine A
        a_signing = tmp_path / "a" / "data" / "keys" / "backup-signing.key"
        if not encrypted:  # plain archives hold no keys: the owner kept the key files
            shutil.copy2(a_keys, usb / a_keys.name)
            shutil.copy2(a_signing, usb / a_signing.name)

        # --- machine B: fresh install, empty data dir, config file as the runbook says -----
        b_root = tmp_path / "b"
        b_config = b_root / "config" / "soulspot.toml"
        b_config.parent.mkdir(parents=True)
        b_config.write_text(_toml(provider))
        env = {
            "SOULSPOT_CONFIG": None,
            "SOULSPOT__KERNEL__DATA_DIR": str(b_root / "data"),
            "SOULSPOT_BACKUP_PASSPHRASE": PASSPHRASE if encrypted else None,
        }
        if not encrypted:  # the runbook: the signing key first, so the archive authenticates
            (b_root / "data" / "keys").mkdir(mode=0o700, parents=True)
            shutil.copyfile(usb / a_signing.name, b_root / "data" / "keys" / a_signing.name)
            (b_root / "data" / "keys" / a_signing.name).chmod(0o600)
        runner = CliRunner()
        restored = runner.invoke(
            cli, ["--config", str(b_config), "backup", "restore", str(archive), "--yes"], env=env
        )
        assert restored.exit_code == 0, restored.output
        assert re.search(r"restored \S+ \(.*database.*\)", restored.stdout), restored.stdout
        assert ("spotify-token-keys" in restored.stdout) is encrypted
        listed = runner.invoke(cli, ["--config", str(b_config), "backup", "list"], env=env)
        assert "pre-restore" in listed.stdout  # of the empty install: the way back

        b_keys = b_root / "data" / "keys" / "spotify_token_keys"
        if not encrypted:  # the runbook: install -m 0600 <copy> data/keys/spotify_token_keys
            b_keys.parent.mkdir(mode=0o700, exist_ok=True)
            shutil.copyfile(usb / a_keys.name, b_keys)
            b_keys.chmod(0o600)
        assert b_keys.read_bytes() == a_keys.read_bytes()
        assert b_keys.stat().st_mode & 0o077 == 0

        b = build_app(b_root / "data", config_path=b_config)
        # the restored database knows the owner: a stranger is refused...
        provider.next_user = "bob"
        assert Browser(b).sign_in().status_code == 403
        # ...the owner's session from machine A still works, and its stored Spotify tokens
        # decrypt with the restored key (the connection check calls the provider with them)
        provider.next_user = "alice"
        old = Browser(b)
        old.set_cookie(session_cookie)
        page = old.get("/auth/sessions")
        assert page.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
        assert token is not None
        checked = old.post("/auth/check", {"csrf_token": token.group(1)})
        assert checked.status_code == 302
        assert "Spotify connection works" in old.get("/auth/sessions").get_data(as_text=True)
        # ...and the owner signs in afresh
        fresh = Browser(b)
        assert fresh.sign_in().status_code == 302
        assert fresh.get("/").status_code == 200
        assert fresh.get("/backups").status_code == 200
