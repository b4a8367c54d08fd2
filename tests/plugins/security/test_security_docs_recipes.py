"""The API token recipes in docs/security.md, run as written against a live server (only the
address and the example token id are replaced)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from soulspot.testing import to_toml

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "security.md"
BIN = Path(sys.executable).parent


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def _blocks(section: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


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


def test_the_token_recipes_work_as_documented(
    make_app: Any, live_server: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    app = make_app(data_dir=data_dir)  # sign-in on: the API needs a session or a token
    config = tmp_path / "soulspot.toml"
    config.write_text(to_toml({"kernel": {"data_dir": str(data_dir)}}))
    server = live_server(app)
    manage, curl = _blocks(_section("Personal API tokens"))

    # create / list / revoke, with the example id replaced by the id `create` made
    lines = [re.sub(r"\s+#.*$", "", line) for line in manage.strip().splitlines()]
    created = _shell("\n".join(lines[:2]), tmp_path, config)
    assert created.returncode == 0, created.stderr
    token = re.search(r"^ssp_\S+$", created.stdout, flags=re.M)
    row = re.search(r"^([0-9a-f]{8}) +read +\S+ \S+ +never +backup script$", created.stdout, re.M)
    assert token and row, created.stdout
    revoke = lines[2].replace("1a2b3c4d", row.group(1))

    # revoke, then the curl example against the live server
    assert "http://127.0.0.1:8765" in curl
    script = revoke + "\n" + curl.replace("http://127.0.0.1:8765", server.url)
    result = _shell(script, tmp_path, config)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"revoked API token {row.group(1)} (backup script)\n")
    answer = json.loads(result.stdout.split("\n", 1)[1])
    assert answer["total"] == 2
    assert {e["event"] for e in answer["events"]} == {"api_token.created"}
    assert {e["details"]["name"] for e in answer["events"]} == {"audit reader", "backup script"}
