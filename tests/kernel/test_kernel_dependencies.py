"""Dependencies are honest: every runtime dependency in pyproject.toml has a floor and a cap,
constraints/lowest.txt (what CI's lowest-versions job installs) pins exactly those floors,
and constraints.txt (what the image and release builds install) pins every one of them at a
version inside its range."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _dependencies() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(line) for line in project["dependencies"]]


def test_every_dependency_has_a_floor_and_a_cap_below_the_next_major() -> None:
    for req in _dependencies():
        operators = {spec.operator for spec in req.specifier}
        assert ">=" in operators, f"{req.name} has no floor"
        assert "<" in operators, f"{req.name} has no cap"


def test_the_lowest_versions_file_pins_exactly_the_floors() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_lowest.py"), "--consistent"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "pins every floor" in done.stdout


def test_the_constraints_file_pins_every_dependency_inside_its_range() -> None:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            pins[canonicalize_name(name)] = pinned
    for req in _dependencies():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {req.name}=={pins[name]}, outside {req.specifier}"
        )
