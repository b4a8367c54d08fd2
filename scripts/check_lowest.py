"""Check that every runtime dependency is installed at the floor constraints/lowest.txt
names (CI's lowest-versions job: a floor that pip could not honour must fail the job, not
pass it with newer versions). Exit 1 naming each mismatch."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.version import Version

LOWEST = Path(__file__).resolve().parents[1] / "constraints" / "lowest.txt"


def main() -> int:
    wrong = []
    for line in LOWEST.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, floor = line.partition("==")
        try:
            installed = version(name)
        except PackageNotFoundError:
            wrong.append(f"{name}: not installed (floor {floor})")
            continue
        if Version(installed) != Version(floor):
            wrong.append(f"{name}: {installed} installed, floor is {floor}")
    for item in wrong:
        print(item, file=sys.stderr)
    if not wrong:
        print(f"every runtime dependency is at its floor ({LOWEST.name})")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
