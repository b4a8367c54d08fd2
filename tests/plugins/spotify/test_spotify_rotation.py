"""``soulspot secrets rotate``: new key, every token re-encrypted, old key retired; sign-in
keeps working."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet, InvalidToken
from flask import Flask
from spotify_support import TEST_CONFIG, Browser, audit_events, in_app

from soulspot import api
from soulspot.cli import cli
from soulspot.testing import deep_merge
from support.oauth_provider import LocalOAuthProvider


def _write_config(path: Path, data_dir: Path, spotify: dict[str, Any]) -> Path:
    cfg = deep_merge(TEST_CONFIG, {"plugins": {"spotify": spotify}})
    lines = ["[kernel]", f"data_dir = {json.dumps(str(data_dir))}", ""]
    for name, section in cfg["plugins"].items():
        lines.append(f"[plugins.{name}]")
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in section.items())
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def _rotate(config: Path, *extra: str) -> Any:
    return CliRunner().invoke(
        cli, ["--config", str(config), "secrets", "rotate", *extra], catch_exceptions=False
    )


def _row(app: Flask) -> Any:
    from soulspot_spotify.models import SpotifyToken

    return in_app(app, lambda: SpotifyToken.get(SpotifyToken.user_id == "alice"))


def _me(app: Flask) -> Any:
    from soulspot_spotify.tokens import SpotifyClient

    rt = api.state_for("soulspot_spotify", app)
    return in_app(app, lambda: SpotifyClient(rt).get("/me", "alice"))


def test_rotation_round_trip_keeps_sign_in_working(
    spotify_app: Callable[..., Flask], provider: LocalOAuthProvider, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    app = spotify_app(data_dir=data_dir)
    browser = Browser(app)
    browser.sign_in()
    key_file = data_dir / "keys" / "spotify_token_keys"
    (old_key,) = key_file.read_text().split()
    config = _write_config(tmp_path / "soulspot.toml", data_dir, provider.client_config())

    refused = CliRunner().invoke(cli, ["--config", str(config), "secrets", "rotate"], input="")
    assert refused.exit_code == 1  # no --yes, no terminal: nothing changes
    assert key_file.read_text().split() == [old_key]

    result = _rotate(config, "--yes")
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 stored token set(s)" in result.output
    (new_key,) = key_file.read_text().split()
    assert new_key != old_key
    assert key_file.stat().st_mode & 0o777 == 0o600

    row = _row(app)
    with pytest.raises(InvalidToken):
        Fernet(old_key.encode()).decrypt(row.access_token.encode())
    assert Fernet(new_key.encode()).decrypt(row.refresh_token.encode())

    # the running app picks the new key up; its session and tokens keep working
    assert browser.get("/").status_code == 200
    assert _me(app)["id"] == "alice"
    # and after a restart, signing in again works too
    restarted = spotify_app(data_dir=data_dir)
    again = Browser(restarted)
    again.set_cookie(browser.cookie() or "")
    assert again.get("/").status_code == 200
    assert Browser(restarted).sign_in().status_code == 302
    assert _me(restarted)["id"] == "alice"
    (event,) = audit_events(restarted, "secrets.rotated")
    assert event.outcome == "ok" and event.details["reencrypted"] == 1
    assert event.details["retired"] == 1


def test_rotation_with_keys_in_the_config(
    spotify_app: Callable[..., Flask], provider: LocalOAuthProvider, tmp_path: Path
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    data_dir = tmp_path / "data"
    app = spotify_app({"token_keys": [old]}, data_dir=data_dir)
    Browser(app).sign_in()
    assert not (data_dir / "keys" / "spotify_token_keys").exists()
    config = _write_config(
        tmp_path / "soulspot.toml", data_dir, {**provider.client_config(), "token_keys": [new, old]}
    )
    result = _rotate(config, "--yes")
    assert result.exit_code == 0, result.output
    assert "remove the old key(s)" in result.output
    row = _row(app)
    assert Fernet(new.encode()).decrypt(row.access_token.encode())
    with pytest.raises(InvalidToken):
        Fernet(old.encode()).decrypt(row.access_token.encode())
    only_new = spotify_app({"token_keys": [new]}, data_dir=data_dir)
    assert _me(only_new)["id"] == "alice"


def test_tokens_under_a_lost_key_ask_for_sign_in_again(app: Flask, browser: Browser) -> None:
    """A backup restored after a rotation (without its key): tokens are unreadable."""
    from soulspot_spotify.models import SpotifyToken
    from soulspot_spotify.tokens import NotConnected

    browser.sign_in()
    stranger = Fernet(Fernet.generate_key())

    def restore_old() -> None:
        SpotifyToken.update(
            access_token=stranger.encrypt(b"old-access").decode(),
            refresh_token=stranger.encrypt(b"old-refresh").decode(),
            expires_at=time.time() + 3600,
        ).execute()

    in_app(app, restore_old)
    with pytest.raises(NotConnected):
        _me(app)
    assert _row(app).reauth_reason == "key_unavailable"
    assert "Re-authorisation needed" in browser.get("/").get_data(as_text=True)


def test_generate_key_prints_a_fernet_key() -> None:
    result = CliRunner().invoke(cli, ["secrets", "generate-key"])
    assert result.exit_code == 0
    Fernet(result.output.strip().encode())


def test_bad_configured_key_is_a_config_error(spotify_app: Callable[..., Flask]) -> None:
    from soulspot.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        spotify_app({"token_keys": ["not-a-key"]})
    assert "token_keys" in str(caught.value)
    assert "not-a-key" not in str(caught.value)


def test_key_file_is_a_sensitive_backup_source(app: Flask, tmp_path: Path) -> None:
    from soulspot_spotify import plugin

    (source,) = plugin.backup_sources(app)
    assert source.name == "spotify-token-keys" and source.sensitive
    ring = api.state_for("soulspot_spotify", app).keyring
    before = ring.keys()
    snap = tmp_path / "snap"
    snap.mkdir()
    source.snapshot(snap)
    assert source.verify(snap) == []
    (snap / "spotify_token_keys").write_text("garbage\n")
    assert source.verify(snap) != []
    (snap / "spotify_token_keys").write_text("\n".join(before) + "\n")
    ring.path.write_text(Fernet.generate_key().decode() + "\n")  # a key lost since
    source.restore(snap)
    assert ring.keys() == before


def test_a_plain_backup_never_holds_the_token_key(app: Flask, browser: Browser) -> None:
    from soulspot import api

    browser.sign_in()
    (key,) = api.state_for("soulspot_spotify", app).keyring.keys()
    backup_id = in_app(app, lambda: api.take_backup("manual"))
    assert backup_id
    data_dir = app.extensions["soulspot"].data_dir
    files = [p for p in data_dir.rglob("*") if p.is_file() and "keys" not in p.parts]
    assert any(backup_id in str(p) for p in files)
    for path in files:
        assert key.encode() not in path.read_bytes(), path
