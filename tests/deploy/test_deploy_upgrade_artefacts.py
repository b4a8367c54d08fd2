"""Upgrade artefacts that need no running service: the deploy-failure alert fires on what
``soulspot-upgrade`` records (``promtool test rules`` on the real rule file), and the Compose
upgrade pattern parses."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from deploy_support import REPO


def test_deploy_failure_fires_the_alert_until_an_upgrade_succeeds(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run scripts/install-system-deps.sh (Debian: prometheus)"
    shutil.copy(REPO / "deploy" / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    shutil.copy(Path(__file__).with_name("deploy_alert_test.yml"), tmp_path / "test.yml")
    result = subprocess.run(
        [promtool, "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_compose_upgrade_script_parses_and_compose_takes_the_tag_from_env() -> None:
    """The Compose pattern cannot run here (no Docker engine): only its syntax and the tag
    variable it switches are checked. docs/operations/upgrade.md says so."""
    import yaml

    script = REPO / "deploy" / "compose-upgrade.sh"
    parsed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert compose["services"]["soulspot"]["image"] == "${SOULSPOT_IMAGE:-soulspot:latest}"
    assert "SOULSPOT_IMAGE=" in script.read_text()
    assert "NOT TESTED" in script.read_text()
    assert "**Not tested here:**" in (REPO / "docs" / "operations" / "upgrade.md").read_text()
