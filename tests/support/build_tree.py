"""What building the ``soulspot`` wheel needs from the repository: the packages under kernel/
and plugins/, the project files, and the data files ``[tool.setuptools.data-files]`` ships
(docs and examples under ``share/doc/soulspot``). Tests that build a wheel from a copy of the
tree copy exactly this, so a new data file cannot silently break them."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE")


def data_files() -> dict[str, list[str]]:
    """``{install dir: [repository paths]}`` from pyproject.toml."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    return dict(project["tool"]["setuptools"].get("data-files", {}))


def build_inputs() -> list[str]:
    """Repository paths outside kernel/ and plugins/ that the build reads."""
    return [*PROJECT_FILES, *(path for paths in data_files().values() for path in paths)]


def copy_build_tree(dest: Path) -> None:
    """Copy what the build needs to ``dest`` (never build in the shared working tree)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in build_inputs():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    shutil.copytree(REPO / "kernel", dest / "kernel", ignore=ignore)
    shutil.copytree(REPO / "plugins", dest / "plugins", ignore=ignore)
