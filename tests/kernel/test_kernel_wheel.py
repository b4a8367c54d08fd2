"""The wheel carries every module and template: an editable install imports an unlisted
subpackage or template fine while the wheel silently drops it (DESIGN.md §2)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from kernel_support import BUILTINS, REPO

import soulspot

#: Files under kernel/ and plugins/ that are not meant to ship (notes for developers, caches).
NOT_SHIPPED_SUFFIXES = {".md", ".pyc", ".pyo"}


def _sources() -> dict[str, Path]:
    """``{path inside the wheel: source file}`` for everything under kernel/ and plugins/."""
    found: dict[str, Path] = {}
    for root in (REPO / "kernel", REPO / "plugins"):
        for path in root.rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            if path.suffix in NOT_SHIPPED_SUFFIXES:
                continue
            found[path.relative_to(root).as_posix()] = path
    return found


@pytest.mark.slow
def test_wheel_contains_every_module_and_template(tmp_path):
    # build from a copy: never write build/ or *.egg-info into the shared working tree
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "kernel", src / "kernel", ignore=ignore)
    shutil.copytree(REPO / "plugins", src / "plugins", ignore=ignore)
    out = tmp_path / "dist"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [wheel] = out.glob("soulspot-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        eps = zf.read(entry_points).decode()
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = zf.read(metadata).decode()
        [license_file] = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert zf.read(license_file) == (REPO / "LICENSE").read_bytes()
    missing = sorted(set(_sources()) - names)
    assert not missing, f"not in the wheel: {missing}"
    assert "soulspot = soulspot.cli:main" in eps
    for name in BUILTINS:
        assert f"{name} = soulspot_{name}.plugin" in eps
    assert not [n for n in names if n.startswith(("tests/", "examples/", "bench/"))]
    # the things that matter most, named explicitly
    for must in (
        "soulspot/templates/soulspot/layout.html",
        "soulspot/static/soulspot.css",
        "soulspot/hookspecs.py",
        "soulspot/testing.py",
        "soulspot/py.typed",
        "soulspot/__main__.py",
        "soulspot/plugin_template/plugin.py.tmpl",
    ):
        assert must in names
    # PEP 621 metadata from pyproject.toml (there is no setup.cfg)
    assert "License-Expression: MIT" in meta
    assert "License-File: LICENSE" in meta
    assert "Requires-Python: >=3.11" in meta
    for classifier in (
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Operating System :: POSIX :: Linux",
        "Framework :: Flask",
        "Typing :: Typed",
    ):
        assert f"Classifier: {classifier}" in meta
    assert re.search(r"^Project-URL: Documentation, https?://", meta, re.M)
    assert re.search(r"^Requires-Dist: flask(<4,>=3\.1|>=3\.1,<4)$", meta, re.M)
    assert 'Requires-Dist: pytest>=8.0; extra == "test"' in meta


def test_python_dash_m_soulspot(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "soulspot", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"soulspot, version {soulspot.__version__}"
