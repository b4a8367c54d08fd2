"""Release and versioning: one version source, a Keep a Changelog file with a section for it,
and a release workflow that builds the wheel and the image from the same version."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import tomllib
from pathlib import Path

import yaml
from deploy_support import BIN, REPO, SOULSPOT, run

import soulspot

CHANGELOG = REPO / "CHANGELOG.md"
RELEASE = REPO / ".github" / "workflows" / "release.yml"
KINDS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_one_version_source(tmp_path: Path) -> None:
    version = soulspot.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "soulspot.__version__"}
    assert importlib.metadata.version("soulspot") == version
    result = run([SOULSPOT, "--version"], cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"soulspot, version {version}"
    # No second copy of the version anywhere in the code.
    for path in (REPO / "kernel").rglob("*.py"):
        if path.name != "__init__.py":
            assert f'"{version}"' not in path.read_text(), path


def test_changelog_follows_keep_a_changelog() -> None:
    text = CHANGELOG.read_text()
    assert "[Keep a Changelog](https://keepachangelog.com/" in text
    headings = re.findall(r"^## \[([^\]]+)\](.*)$", text, flags=re.M)
    assert headings[0][0] == "Unreleased"
    versions = [name for name, _ in headings[1:]]
    assert soulspot.__version__ in versions, "CHANGELOG.md has no section for this version"
    for name, rest in headings[1:]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", name), name
        assert re.fullmatch(r" - \d{4}-\d{2}-\d{2}", rest), f"## [{name}]{rest}: needs a date"
        assert re.search(rf"^\[{re.escape(name)}\]: https://", text, flags=re.M), name
    for kind in re.findall(r"^### (.+)$", text, flags=re.M):
        assert kind in KINDS, kind


def test_release_workflow_builds_wheel_and_image_from_the_version() -> None:
    lint = subprocess.run(
        [str(BIN / "actionlint"), str(RELEASE)], capture_output=True, text=True, timeout=60
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    flow = yaml.safe_load(RELEASE.read_text())
    triggers = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads `on` as true
    assert triggers["push"]["tags"] == ["v*.*.*"]
    steps = {name: job["steps"] for name, job in flow["jobs"].items()}
    wheel = " ".join(str(s.get("run", "")) for s in steps["wheel"])
    assert "python -m build" in wheel and "soulspot.__version__" in wheel
    assert "GITHUB_REF_NAME" in wheel  # tag must equal the version
    image = [s for s in steps["image"] if str(s.get("uses", "")).startswith("docker/build-push")]
    assert image and "SOULSPOT_VERSION" in image[0]["with"]["build-args"]
    publish = " ".join(str(s.get("run", "")) for s in steps["publish"])
    assert "CHANGELOG.md" in publish


def test_health_reports_the_same_version(tmp_path: Path) -> None:
    """``/health`` (loopback) names the running version, from the same single source."""
    from soulspot.testing import build_app

    app = build_app(tmp_path / "data")
    resp = app.test_client().get("/health")
    assert resp.status_code == 200
    assert resp.get_json()["versions"]["soulspot"] == soulspot.__version__
