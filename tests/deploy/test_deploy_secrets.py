"""docs/operations/secrets-rotation.md, executed: every secret's documented rotation and
verification commands run (extracted from the page, blocks tagged ``test:...``; the token-key
section's commands by position) and the effect is checked over HTTP."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import requests
from deploy_support import REPO, SOULSPOT, doc_block, free_port, run, run_doc_block, serving
from flask import Flask

from soulspot.testing import build_app

sys.path.insert(0, str(REPO / "tests" / "support"))
from oauth_provider import LocalOAuthProvider

DOC = REPO / "docs" / "operations" / "secrets-rotation.md"
REMOTE = {"REMOTE_ADDR": "192.0.2.10"}  # a Prometheus on another machine


def section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 3)
    return text[start : end if end != -1 else len(text)]


def test_every_secret_has_a_section() -> None:
    for title in (
        "Spotify token key",
        "Session and CSRF signing key",
        "Metrics bearer token",
        "Spotify client id",
    ):
        body = section(title)
        assert "erif" in body, f"{title}: no verification step"  # Verify / verifies


def test_secret_key_rotation(tmp_path: Path) -> None:
    data = tmp_path / "data"
    before = build_app(data)
    env = {"DATA_DIR": str(data)}
    old_cookie = before.session_interface.get_signing_serializer(before).dumps(  # type: ignore[attr-defined]
        {"_csrf_token": "from-before"}
    )
    printed = run_doc_block(DOC, "rotate-secret-key", cwd=tmp_path, env=env).stdout.split()
    after = build_app(data)  # the restart
    shown = run_doc_block(DOC, "verify-secret-key", cwd=tmp_path, env=env).stdout.split()
    assert shown[0] == "600"
    assert shown[1] != printed[0], "the key did not change"
    assert after.config["SECRET_KEY"] != before.config["SECRET_KEY"]
    # A session cookie signed with the old key means nothing to the new app.
    serializer = after.session_interface.get_signing_serializer(after)  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="Signature"):
        serializer.loads(old_cookie)


def _scrape(app: Flask, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().get("/metrics", headers=headers, environ_base=REMOTE).status_code


def test_metrics_token_rotation(tmp_path: Path) -> None:
    secrets_dir, data = tmp_path / "etc", tmp_path / "data"
    secrets_dir.mkdir()
    variable = re.search(r"SOULSPOT__METRICS__TOKEN_FILE=", section("Metrics bearer token"))
    assert variable, "the doc must name the env variable"
    token_file = secrets_dir / "metrics_token"
    app_env = {"SOULSPOT__METRICS__TOKEN_FILE": str(token_file)}
    run_doc_block(DOC, "rotate-metrics-token", cwd=tmp_path, env={"SECRETS_DIR": str(secrets_dir)})
    old = token_file.read_text().strip()
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    assert _scrape(build_app(data, env=app_env), old) == 200
    run_doc_block(DOC, "rotate-metrics-token", cwd=tmp_path, env={"SECRETS_DIR": str(secrets_dir)})
    new = token_file.read_text().strip()
    assert new != old
    app = build_app(data, env=app_env)  # the restart
    assert _scrape(app, new) == 200
    assert _scrape(app, old) == 401
    assert _scrape(app, None) == 401


def _sign_in(url: str) -> requests.Session:
    session = requests.Session()
    resp = session.get(f"{url}/", timeout=30)  # gate -> provider (auto-approve) -> back
    assert resp.status_code == 200 and resp.url.startswith(url), resp.url
    return session


def _status(session: requests.Session, url: str) -> dict:
    resp = session.get(f"{url}/api/auth/status", timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.mark.slow
def test_client_id_change_and_token_key_rotation(tmp_path: Path) -> None:
    data, admin = tmp_path / "data", tmp_path / "admin"
    admin.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env_file = tmp_path / "soulspot.env"
    with LocalOAuthProvider(
        client_id="new-spotify-app", redirect_uris=[f"{url}/auth/callback"]
    ) as provider:
        env_file.write_text(
            "SOULSPOT__SPOTIFY__CLIENT_ID=old-spotify-app\n"
            f"SOULSPOT__SPOTIFY__AUTHORIZE_URL={provider.authorize_url}\n"
            f"SOULSPOT__SPOTIFY__TOKEN_URL={provider.token_url}\n"
            f"SOULSPOT__SPOTIFY__API_BASE_URL={provider.api_base_url}\n"
        )
        run_doc_block(
            DOC,
            "change-client-id",
            cwd=admin,
            env={"ENV_FILE": str(env_file), "NEW_CLIENT_ID": "new-spotify-app"},
        )
        app_env = dict(
            line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line
        )
        app_env.update(SOULSPOT__KERNEL__DATA_DIR=str(data), SOULSPOT__KERNEL__PORT=str(port))
        with serving(admin, app_env, port=port):
            shown = run_doc_block(
                DOC, "verify-client-id", cwd=admin, env={**app_env, "SOULSPOT_URL": url}
            ).stdout
            assert shown.count("new-spotify-app") == 2, shown
            assert "old-spotify-app" not in shown
            session = _sign_in(url)
            assert _status(session, url)["spotify"]["connected"] is True

            # Token key (section written with the auth plugin): the two documented commands,
            # next to the running server; the connection must survive.
            blocks = re.findall(r"```sh\n(.*?)```", section("Spotify token key"), flags=re.S)
            backup_cmd, rotate_cmd = (b.strip() for b in blocks[:2])
            assert backup_cmd.startswith("soulspot backup create")
            assert rotate_cmd == "soulspot secrets rotate"
            cli_env = {**app_env, "SOULSPOT_BACKUP_PASSPHRASE": "correct horse battery"}
            keys = data / "keys" / "spotify_token_keys"
            key_before = keys.read_text()
            for command in (backup_cmd, rotate_cmd + " --yes"):
                result = run(["bash", "-c", command], cwd=admin, env=cli_env)
                assert result.returncode == 0, f"{command}: {result.stderr}"
            assert keys.read_text() != key_before and len(keys.read_text().split()) == 1
            assert _status(session, url)["spotify"]["connected"] is True
            audit = run(
                [SOULSPOT, "audit", "export", "--since", "1d", "--format", "jsonl"],
                cwd=admin,
                env=app_env,
            )
            assert '"secrets.rotated"' in audit.stdout, audit.stderr
        assert provider.calls["token:authorization_code"] == 1
        assert doc_block(DOC, "verify-client-id")  # the block exists exactly once
