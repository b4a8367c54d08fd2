"""Environment parity: the default (development) config and the production example share one
schema — same keys, both valid — and the production example is regenerated, never hand-drifted."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from deploy_support import REPO, SOULSPOT, run

DEFAULT = REPO / "config" / "soulspot.toml"
PRODUCTION = REPO / "config" / "production.example.toml"


def keys(path: Path) -> set[str]:
    """Every key of the file, including commented-out ones (``# secret_key = ""``)."""
    found: set[str] = set()
    section = ""
    for line in path.read_text().splitlines():
        header = re.fullmatch(r"\[([^\]]+)\]", line.strip())
        if header:
            section = header.group(1)
            continue
        match = re.fullmatch(r"(?:# )?([a-z_][a-z0-9_]*) = .*", line)
        if match:
            found.add(f"{section}.{match.group(1)}")
    return found


def test_both_files_have_the_same_keys() -> None:
    default, production = keys(DEFAULT), keys(PRODUCTION)
    assert default, "no keys found in config/soulspot.toml"
    assert default == production, (
        f"only in default: {sorted(default - production)}; "
        f"only in production: {sorted(production - default)} (run `make docs-config`)"
    )


def test_both_files_pass_config_check(tmp_path: Path) -> None:
    for path in (DEFAULT, PRODUCTION):
        result = run([SOULSPOT, "--config", str(path), "config", "check"], cwd=tmp_path)
        assert result.returncode == 0, f"{path.name}: {result.stderr}"
        assert f"config ok: {path}" in result.stdout


def test_same_value_types_and_production_differences() -> None:
    default = tomllib.loads(DEFAULT.read_text())
    production = tomllib.loads(PRODUCTION.read_text())
    for section in ("kernel",):
        for key, value in default[section].items():
            assert type(production[section][key]) is type(value), f"{section}.{key}"
    for name, table in default["plugins"].items():
        for key, value in table.items():
            assert type(production["plugins"][name][key]) is type(value), f"{name}.{key}"
    assert production["kernel"]["public_url"].startswith("https://")
    assert production["kernel"]["trusted_proxies"] >= 1
    assert "secret_key" not in production["kernel"], "a secret in the example"


def test_production_example_is_generated() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "production_config.py")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == PRODUCTION.read_text(), "run `make docs-config`"


def test_default_file_is_the_generated_sample(tmp_path: Path) -> None:
    result = run([SOULSPOT, "config", "sample"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == DEFAULT.read_text(), "run `make docs-config`"


def test_configuration_reference_is_generated(tmp_path: Path) -> None:
    """docs/configuration.md is `soulspot config reference`: it cannot drift from the models."""
    result = run([SOULSPOT, "config", "reference"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = (REPO / "docs" / "configuration.md").read_text()
    assert result.stdout == doc, "docs/configuration.md is stale: run `make docs-config`"
    for key in keys(DEFAULT):  # every key of the sample is documented
        name = key.rsplit(".", 1)[1]
        assert f"`{name}`" in doc, key
