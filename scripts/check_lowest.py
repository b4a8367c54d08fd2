"""The lowest-versions check (CI's job ``lowest``).

- ``--consistent``: ``constraints/lowest.txt`` pins exactly the floors (``>=``) of
  pyproject.toml's ``[project] dependencies``, no more, no fewer (a test runs this);
- without it: every one of those dependencies is installed at its floor (after
  ``pip install -c constraints/lowest.txt -e '.[test]'``), so a floor pip could not honour
  fails the job instead of passing it with newer versions.

Exit 1 naming each mismatch.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOWEST = ROOT / "constraints" / "lowest.txt"
PYPROJECT = ROOT / "pyproject.toml"


def declared_floors() -> dict[str, str]:
    """``{name: floor}`` of every runtime dependency in pyproject.toml."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    floors: dict[str, str] = {}
    for line in project["dependencies"]:
        req = Requirement(line)
        lows = [s.version for s in req.specifier if s.operator == ">="]
        floors[canonicalize_name(req.name)] = lows[0] if lows else ""
    return floors


def pinned_floors() -> dict[str, str]:
    """``{name: version}`` pinned in constraints/lowest.txt."""
    pins: dict[str, str] = {}
    for line in LOWEST.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            pins[canonicalize_name(name)] = pinned
    return pins


def inconsistencies() -> list[str]:
    declared, pinned = declared_floors(), pinned_floors()
    wrong = [f"{n}: no floor (>=) in pyproject.toml" for n, f in declared.items() if not f]
    for name in sorted(declared.keys() - pinned.keys()):
        wrong.append(f"{name}: in pyproject.toml, missing from {LOWEST.name}")
    for name in sorted(pinned.keys() - declared.keys()):
        wrong.append(f"{name}: in {LOWEST.name}, not a dependency in pyproject.toml")
    for name in sorted(declared.keys() & pinned.keys()):
        floor = declared[name]
        if floor and Version(re.sub(r"\.\*$", "", floor)) != Version(pinned[name]):
            wrong.append(f"{name}: floor {floor} in pyproject.toml, {pinned[name]} pinned")
    return wrong


def not_at_floor() -> list[str]:
    wrong = []
    for name, floor in pinned_floors().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            wrong.append(f"{name}: not installed (floor {floor})")
            continue
        if Version(installed) != Version(floor):
            wrong.append(f"{name}: {installed} installed, floor is {floor}")
    return wrong


def main(argv: list[str]) -> int:
    consistent = "--consistent" in argv
    wrong = inconsistencies() if consistent else [*inconsistencies(), *not_at_floor()]
    for item in wrong:
        print(item, file=sys.stderr)
    if not wrong:
        print(
            f"{LOWEST.name} pins every floor of pyproject.toml"
            if consistent
            else f"every runtime dependency is at its floor ({LOWEST.name})"
        )
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
