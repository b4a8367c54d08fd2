"""``soulspot plugin new NAME`` (issue 18): the generated distribution installs into a fresh
venv, its own tests pass as generated, ``mypy --strict`` accepts it against the installed
kernel (which must ship ``py.typed`` for that), its CI workflow lints, and the real
``soulspot`` command loads it from its entry point.

The venv is offline and fast: no pip inside, no downloads. Two ``.pth`` files make the
running environment's packages importable in it (the kernel's folder first, as an installed
package, then this environment's site-packages for Flask, pytest, mypy, setuptools, pip),
and the plugin itself is installed for real with ``pip install --no-deps --no-index
--no-build-isolation``."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from kernel_support import BIN, clean_env

import soulspot


def test_names_and_targets_are_checked(run_cli, tmp_path):
    bad = run_cli(["plugin", "new", "My-Plugin", "--dir", str(tmp_path / "x")])
    assert bad.exit_code == 2
    assert "plugin name 'My-Plugin' is not usable" in bad.stderr
    assert not (tmp_path / "x").exists()
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    refused = run_cli(["plugin", "new", "notes", "--dir", str(taken)])
    assert refused.exit_code == 2
    assert "already exists and is not empty" in refused.stderr
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]


def test_the_layout(run_cli, tmp_path):
    target = tmp_path / "soulspot-play-counts"
    result = run_cli(["plugin", "new", "play_counts", "--dir", str(target)])
    assert result.exit_code == 0, result.output
    files = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert files == {
        ".gitignore",
        ".github/workflows/ci.yml",
        "README.md",
        "pyproject.toml",
        "soulspot_play_counts/__init__.py",
        "soulspot_play_counts/commands.py",
        "soulspot_play_counts/config.py",
        "soulspot_play_counts/models.py",
        "soulspot_play_counts/plugin.py",
        "soulspot_play_counts/py.typed",
        "soulspot_play_counts/templates/play_counts/index.html",
        "soulspot_play_counts/views.py",
        "tests/test_play_counts.py",
    }
    import tomllib

    project = tomllib.loads((target / "pyproject.toml").read_text())["project"]
    assert project["name"] == "soulspot-play-counts"
    assert project["entry-points"]["soulspot.plugins"] == {
        "play_counts": "soulspot_play_counts.plugin"
    }
    assert project["dependencies"] == ["soulspot>=0.1,<1.0"]
    assert "@@" not in "".join(p.read_text() for p in target.rglob("*") if p.is_file())


def _venv(root: Path) -> Path:
    """A venv without pip that sees the kernel as an installed package and this
    environment's libraries; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    kernel_root = Path(soulspot.__file__).resolve().parent.parent
    ours = sysconfig.get_path("purelib")
    (Path(site) / "00-soulspot.pth").write_text(f"{kernel_root}\n")
    (Path(site) / "zz-libraries.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


def _run(args: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


# The two tests below run several subprocesses (pip, pytest, mypy): on a busy machine they
# take longer than the suite's default 120 s timeout. Two tests, so xdist runs them side by
# side.


def _generate(run_cli, tmp_path: Path) -> Path:
    project = tmp_path / "soulspot-notes"
    result = run_cli(["plugin", "new", "notes", "--dir", str(project)])
    assert result.exit_code == 0, result.output
    return project


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_generated_plugin_installs_passes_its_tests_and_loads(run_cli, tmp_path):
    project = _generate(run_cli, tmp_path)
    python = _venv(tmp_path / "venv")
    offline = ["--quiet", "--no-deps", "--no-index", "--no-build-isolation"]
    installed = _run([python, "-m", "pip", "install", *offline, project], tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "warning" not in installed.stderr.lower(), installed.stderr

    # its own tests, run from outside the project: they use the installed copy
    tests = _run(
        [python, "-m", "pytest", "-q", "-c", project / "pyproject.toml", "--rootdir", project],
        tmp_path,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "9 passed" in tests.stdout, tests.stdout

    # the real command, in the venv, loads it from its entry point
    config = tmp_path / "soulspot.toml"
    config.write_text(f'[kernel]\ndata_dir = "{tmp_path / "data"}"\n')
    soulspot_cmd = [python, "-c", "from soulspot.cli import main; main()", "--config", config]
    listed = _run([*soulspot_cmd, "plugins", "--json"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    notes = {p["name"]: p for p in json.loads(listed.stdout)}["notes"]
    assert (notes["distribution"], notes["version"], notes["enabled"]) == (
        "soulspot-notes",
        "0.1.0",
        True,
    )
    assert _run([*soulspot_cmd, "notes", "add", "milk"], tmp_path).returncode == 0
    counted = _run([*soulspot_cmd, "notes", "count"], tmp_path)
    assert counted.stdout.strip().splitlines()[-1] == "1", counted.stdout + counted.stderr


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_generated_plugin_is_strictly_typed_against_the_installed_kernel(run_cli, tmp_path):
    """mypy --strict in a venv where ``soulspot`` is an installed package: without the
    kernel's ``py.typed`` every ``soulspot`` import would be an error here."""
    project = _generate(run_cli, tmp_path)
    python = _venv(tmp_path / "venv")
    typed = _run([python, "-m", "mypy", "--cache-dir", tmp_path / "mypy-cache"], project)
    assert typed.returncode == 0, typed.stdout + typed.stderr
    assert "Success: no issues found" in typed.stdout
    lint = _run([BIN / "actionlint", project / ".github" / "workflows" / "ci.yml"], tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
