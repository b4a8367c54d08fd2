"""The operator docs name only things that exist: commands, settings, environment variables,
alerts, audit events and linked files. (A doc that names a setting that does not exist is
how the old SoulSpot misled its operators.)"""

from __future__ import annotations

import re

import pytest
import yaml
from click.testing import CliRunner
from deploy_support import REPO
from test_deploy_config_parity import keys

from soulspot.cli import cli

DOCS = [
    REPO / "docs" / "deployment.md",
    REPO / "docs" / "getting-started.md",
    REPO / "docs" / "performance.md",
    *sorted((REPO / "docs" / "operations").glob("*.md")),
]
CONFIG_KEYS = keys(REPO / "config" / "soulspot.toml")
AUDIT_EVENTS = {
    "auth.sign_in",
    "auth.sign_out",
    "auth.session_revoked",
    "auth.sessions_revoked_all",
    "auth.refresh_failed",
    "auth.tokens_purged",
    "auth.setup_client_id",
    "secrets.rotated",
    "security.csrf_rejected",
    "security.rate_limited",
    "config.plugins_changed",
    "backup.created",
    "backup.verified",
    "backup.restored",
    "backup.deleted",
    "backup.pruned",
    "backup.failed",
    "db.migrated",
}


def code_spans(text: str) -> list[str]:
    fenced = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return fenced + inline


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    missing = [p.name for p in DOCS if not p.is_file()]
    assert not missing, missing
    return {p.name: p.read_text() for p in DOCS}


def test_every_soulspot_command_exists(texts: dict[str, str]) -> None:
    commands: set[tuple[str, ...]] = set()
    for text in texts.values():
        fenced = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
        spans = [re.sub(r"(^|\s)#.*$", "", f, flags=re.M) for f in fenced]  # no comments
        spans += [s for s in code_spans(text) if s.startswith("soulspot ")]
        for span in spans:
            for match in re.finditer(r"(?:^|[\s(;|&])soulspot((?: [a-z][a-z-]+){1,2})", span):
                if span[: match.start() + 1].rstrip().endswith("-u"):
                    continue  # `sudo -u soulspot env ...`: the user, not the command
                commands.add(tuple(match.group(1).split()))
    assert ("backup", "restore") in commands and ("db", "downgrade") in commands
    runner = CliRunner()
    for words in sorted(commands):
        result = runner.invoke(cli, [*words, "--help"])
        if result.exit_code != 0 and len(words) == 2:  # `soulspot serve json`-like prose
            result = runner.invoke(cli, [words[0], "--help"])
            assert "Commands:" not in result.output, f"soulspot {' '.join(words)}"
        assert result.exit_code == 0, f"soulspot {' '.join(words)}: {result.output}"


def test_every_setting_and_variable_exists(texts: dict[str, str]) -> None:
    for name, text in texts.items():
        for section, key in re.findall(r"\[(kernel|plugins\.[a-z]+)\]\s+`?([a-z_]+)", text):
            if key in ("enabled",) or f"{section}.{key}" in CONFIG_KEYS:
                continue
            assert f"{section}.{key}" in CONFIG_KEYS, f"{name}: [{section}] {key}"
        for var in re.findall(r"SOULSPOT__([A-Z]+)__([A-Z_]+?)(?:_FILE)?\b", text):
            section = "kernel" if var[0] == "KERNEL" else f"plugins.{var[0].lower()}"
            assert f"{section}.{var[1].lower()}" in CONFIG_KEYS, (
                f"{name}: SOULSPOT__{'__'.join(var)}"
            )


def test_alerts_and_audit_events_exist(texts: dict[str, str]) -> None:
    rules = yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    for name, text in texts.items():
        for alert in re.findall(r"`(SoulSpot[A-Z][A-Za-z]+)`", text):
            assert alert in alerts, f"{name}: alert {alert}"
        for event in re.findall(r"`((?:auth|backup|security|secrets|config|db)\.[a-z_]+)`", text):
            assert event in AUDIT_EVENTS, f"{name}: audit event {event}"


def test_relative_links_resolve(texts: dict[str, str]) -> None:
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            assert (path.parent / target).exists(), f"{path.name}: broken link {target}"


def test_docs_index_links_the_operator_docs() -> None:
    index = (REPO / "docs" / "index.md").read_text()
    for path in DOCS:
        rel = str(path.relative_to(REPO / "docs"))
        assert rel in index, f"docs/index.md does not link {rel}"
