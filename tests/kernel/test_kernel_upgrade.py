"""``soulspot-upgrade``'s refusals and its small parts, on real files (the whole upgrade and
rollback run in tests/deploy/test_deploy_upgrade.py)."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from soulspot.exceptions import ConfigError
from soulspot.upgrade.cli import main, read_env_file
from soulspot.upgrade.layout import Layout, wheel_version
from soulspot.upgrade.status import updated


def _wheel(tmp_path: Path, name: str = "soulspot-1.2.3-py3-none-any.whl") -> Path:
    wheel = tmp_path / name
    wheel.write_bytes(b"PK")
    return wheel


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_version_comes_from_the_wheel_name(tmp_path: Path) -> None:
    assert wheel_version(_wheel(tmp_path)) == "1.2.3"
    with pytest.raises(ConfigError, match="not a SoulSpot wheel"):
        wheel_version(_wheel(tmp_path, "other-1.0-py3-none-any.whl"))
    with pytest.raises(ConfigError, match="no such file"):
        wheel_version(tmp_path / "soulspot-2.0.0-py3-none-any.whl")


def test_the_current_link_switches_in_one_step(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    with pytest.raises(ConfigError, match="First release"):
        layout.current()
    for version in ("1.0.0", "1.1.0"):
        (layout.release(version).path / "bin").mkdir(parents=True)
    layout.switch(layout.release("1.0.0"))
    assert layout.current().version == "1.0.0"
    layout.switch(layout.release("1.1.0"))
    assert os.readlink(tmp_path / "current") == "releases/1.1.0"
    assert layout.current().version == "1.1.0"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "releases"]


def test_env_file_reads_like_systemd(tmp_path: Path) -> None:
    path = tmp_path / "soulspot.env"
    path.write_text('# secrets\nA=1\n\nB="two words"\n; note\nC=\'x\'\n')
    assert read_env_file(path) == {"A": "1", "B": "two words", "C": "x"}
    path.write_text("A=1\nnot a line\n")
    with pytest.raises(Exception, match=r"soulspot.env:2: expected KEY=VALUE"):
        read_env_file(path)


def test_status_keeps_success_and_failure_apart() -> None:
    t1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    t2 = t1 + dt.timedelta(hours=1)
    first = updated({}, "upgraded", "1.0.0", "1.1.0", "", t1)
    second = updated(first, "rolled_back", "1.1.0", "1.2.0", "not ready", t2)
    assert second["last_success_timestamp"] == t1.timestamp()
    assert second["last_failure_timestamp"] == t2.timestamp()
    assert second["outcome"] == "rolled_back" and second["reason"] == "not ready"


def _upgrade(tmp_path: Path, *extra: str) -> Result:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return CliRunner().invoke(
        main,
        [
            str(_wheel(tmp_path)),
            *("--root", str(tmp_path / "opt"), "--data-dir", str(data)),
            *("--url", f"http://127.0.0.1:{_free_port()}", "--run-as", "nobody-needed"),
            *extra,
        ],
    )


def test_refuses_without_a_release_layout(tmp_path: Path) -> None:
    result = _upgrade(tmp_path)
    assert result.exit_code == 2
    assert "refused" in result.output and "First release" in result.output


def test_refuses_when_the_current_version_is_not_serving(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "opt")
    (layout.release("1.0.0").path / "bin").mkdir(parents=True)
    layout.switch(layout.release("1.0.0"))
    result = _upgrade(tmp_path)
    assert result.exit_code == 2, result.output
    assert "current version 1.0.0 is not serving ready" in result.output
    # nothing changed: no new release, the link as it was, no record
    assert sorted(p.name for p in layout.releases.iterdir()) == ["1.0.0"]
    assert layout.current().version == "1.0.0"
    assert not layout.records.exists()


def test_service_commands_go_together(tmp_path: Path) -> None:
    result = _upgrade(tmp_path, "--restart-command", "true")
    assert result.exit_code == 2
    assert "go together" in result.output
