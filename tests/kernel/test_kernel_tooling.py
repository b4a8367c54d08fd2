"""`make test`, tox and the CI workflow run the same checks, so CI mirrors what a developer
runs; actionlint (inside `make test`) checks the workflow syntax itself."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import yaml
from kernel_support import REPO

CHECKS = {
    "lint": "ruff check kernel plugins tests bench examples",
    "type": "mypy",
    "security": "bandit -q -c pyproject.toml -r kernel plugins",
    "actionlint": "actionlint .github/workflows/",
}


def _make_test_recipe() -> str:
    text = (REPO / "Makefile").read_text()
    match = re.search(r"^test:.*\n((?:\t.*\n)+)", text, re.M)
    assert match, "Makefile has no test target"
    return match.group(1)


def test_make_test_runs_every_check():
    recipe = _make_test_recipe()
    for name, command in CHECKS.items():
        assert command in recipe, f"make test does not run {name}: {command}"
    assert "pytest -n auto" in recipe


def test_ci_runs_the_same_checks_in_parallel_jobs():
    workflow = yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text())
    jobs = workflow["jobs"]
    assert {"static", "tests", "e2e"} <= set(jobs)
    assert not any("needs" in job for job in jobs.values()), "jobs must run in parallel"
    everything = yaml.safe_dump(workflow)
    for name, command in CHECKS.items():
        assert command in everything, f"ci.yml does not run {name}: {command}"
    runs = " ".join(step.get("run", "") for job in jobs.values() for step in job["steps"])
    assert '-m "not e2e"' in runs and "-m e2e" in runs
    assert "scripts/install-system-deps.sh" in runs
    # pip downloads cached in every job
    for name, job in jobs.items():
        text = yaml.safe_dump(job)
        assert "cache: pip" in text or "actions/cache@" in text, f"job {name} caches nothing"


def test_tox_envs_match():
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO / "tox.ini")
    assert tox["tox"]["envlist"].replace(" ", "").split(",") == ["py", "lint", "type", "security"]
    assert "pytest -n auto" in tox["testenv"]["commands"]
    assert CHECKS["lint"] in tox["testenv:lint"]["commands"]
    assert "actionlint" in tox["testenv:lint"]["commands"]
    assert tox["testenv:type"]["commands"].startswith("mypy")
    assert CHECKS["security"] in tox["testenv:security"]["commands"]
    for workflow in (REPO / ".github/workflows").glob("*.yml"):
        assert workflow.name in tox["testenv:lint"]["commands"], f"tox lint misses {workflow}"


def test_actionlint_passes_and_catches_mistakes(tmp_path):
    actionlint = str(Path(sys.executable).parent / "actionlint")
    workflows = sorted(str(p) for p in (REPO / ".github/workflows").glob("*.yml"))
    good = subprocess.run([actionlint, *workflows], capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ matrix.nope }}\n"
    )
    caught = subprocess.run([actionlint, str(bad)], capture_output=True, text=True, check=False)
    assert caught.returncode == 1
    assert 'property "nope" is not defined' in caught.stdout
