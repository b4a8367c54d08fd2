"""``soulspot sessions list|revoke`` (issue 15, item 1): the owner ends sessions from a
terminal, with the server running (the store is shared; a revoked session stops working at
once, cached or not) or stopped; and the recipe in docs/auth.md runs as written."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from soulspot import api
from soulspot.testing import session_cookies, to_toml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def _cli(run_cli: Any, data_dir: Path, *args: str) -> Any:
    return run_cli(["sessions", *args], config={"kernel": {"data_dir": str(data_dir)}})


def _audits(app: Flask, name: str) -> list[Any]:
    with app.app_context():
        store = api.storage()
        with store.connection():
            return store.audit.query(event=name, limit=100)


def test_with_the_server_stopped_the_next_start_knows_nobody(
    make_app: Any, run_cli: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    cookies = session_cookies(make_app(data_dir=data_dir), "owner")  # then the server stops
    assert _cli(run_cli, data_dir, "revoke", "--all").exit_code == 0
    client = make_app(data_dir=data_dir).test_client()  # started again
    for name, value in cookies.items():
        client.set_cookie(name, value)
    assert client.get("/api/auth/status").status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("0123456789ab", "--all"), "give a session ID or --all"),
        (("not-hex",), "is not a session id"),
        (("0123456789ab",), "no active session with id '0123456789ab'"),
    ],
)
def test_bad_revoke_arguments_say_what_is_wrong(
    make_app: Any, run_cli: Any, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    make_app(data_dir=tmp_path / "data")  # an instance (a missing one is refused first)
    result = _cli(run_cli, tmp_path / "data", "revoke", *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def _doc_block() -> str:
    text = (REPO / "docs" / "auth.md").read_text()
    start = text.index("### Sessions from a terminal")
    (block,) = re.findall(r"```sh\n(.*?)```", text[start : text.index("\n## ", start)], re.S)
    return block


def _shell(script: str, cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "SOULSPOT_CONFIG": str(config)})
    return subprocess.run(  # the doc's own commands, no shell input from outside
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_documented_commands_end_sessions_of_a_running_server_at_once(
    make_app: Any, live_server: Any, run_cli: Any, tmp_path: Path
) -> None:
    """docs/auth.md's commands as written (only the example ID replaced), next to a live
    server that holds both sessions in its memory (``session_cache_seconds``: 2 s). The
    revocation by ID runs as a process of its own, as an operator would run it."""
    data_dir = tmp_path / "data"
    config = tmp_path / "soulspot.toml"
    config.write_text(to_toml({"kernel": {"data_dir": str(data_dir)}}))
    app = make_app(data_dir=data_dir)
    server = live_server(app)
    laptop, phone = server.signed_in("owner"), server.signed_in("owner")
    for http in (laptop, phone):
        assert _status(http, server.url) == 200  # in use: now served from memory
    phone_id = hashlib.sha256(phone.cookies["soulspot_session"].encode()).hexdigest()

    lines = [re.sub(r"\s+#.*$", "", line) for line in _doc_block().strip().splitlines()]
    assert lines == [
        "soulspot sessions list",
        "soulspot sessions revoke 3f2a9c1b7d4e",
        "soulspot sessions revoke --all",
    ]
    listed = _cli(run_cli, data_dir, *lines[0].split()[2:])
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:4] == ["ID", "USER", "SIGNED", "IN"]
    assert len(rows) == 2 and all(row.split()[1] == "owner" for row in rows)
    assert phone_id[:12] in {row.split()[0] for row in rows}
    as_json = [
        json.loads(line) for line in _cli(run_cli, data_dir, "list", "--json").stdout.splitlines()
    ]
    assert phone_id in {row["id"] for row in as_json}
    assert set(as_json[0]) == {
        "id", "user_id", "created_at", "last_seen", "expires_at", "ip", "user_agent"
    }  # fmt: skip

    one = _shell(lines[1].replace("3f2a9c1b7d4e", phone_id[:12]), tmp_path, config)
    assert one.returncode == 0, one.stderr
    assert one.stdout == f"revoked session {phone_id[:12]} (owner)\n"
    # at once, though the server had it in memory: no waiting for session_cache_seconds
    assert _status(phone, server.url) == 401
    assert _status(laptop, server.url) == 200

    everyone = _cli(run_cli, data_dir, *lines[2].split()[2:])
    assert everyone.exit_code == 0, everyone.output
    assert everyone.stdout.startswith("revoked 1 session(s)")
    assert _status(laptop, server.url) == 401
    assert _cli(run_cli, data_dir, "list").stdout == "no active sessions\n"
    (one_event,) = _audits(app, "auth.session_revoked")
    assert one_event.actor == "cli" and one_event.details["via"] == "cli"
    (every,) = _audits(app, "auth.sessions_revoked_all")
    assert every.details["count"] == 1 and every.actor == "cli"


def _status(http: requests.Session, base: str) -> int:
    return http.get(base + "/api/auth/status", timeout=10).status_code
