"""The wheel carries every module and template: an editable install imports an unlisted
subpackage or template fine while the wheel silently drops it (DESIGN.md §2)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
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
def test_make_dist_builds_a_complete_wheel_and_an_sdist(tmp_path):
    """`make dist`, run in a copy of the tree (never write build/ or *.egg-info into the
    shared working tree), with this test's environment as its venv."""
    from support.build_tree import copy_build_tree, data_files

    src = tmp_path / "src"
    copy_build_tree(src)
    shutil.copy2(REPO / "Makefile", src / "Makefile")
    venv = Path(sys.prefix)
    result = subprocess.run(
        # -o: the venv is up to date (make must not reinstall it from the copy)
        [
            "make",
            "-C",
            str(src),
            "-o",
            f"{venv}/.installed-test",
            "-o",
            f"{venv}/.installed-run",
            f"VENV={venv}",
            "dist",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = src / "dist"
    [sdist] = out.glob(f"soulspot-{soulspot.__version__}.tar.gz")
    with tarfile.open(sdist) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for must in (
        "pyproject.toml",
        "LICENSE",
        "kernel/soulspot/cli.py",
        "plugins/soulspot_spotify/templates/spotify/setup.html",
        "config/production.example.toml",
        "deploy/systemd/soulspot.service",
    ):
        assert must in in_sdist, must
    [wheel] = out.glob(f"soulspot-{soulspot.__version__}-py3-none-any.whl")
    shipped = {
        f"soulspot-{soulspot.__version__}.data/data/{target}/{Path(path).name}": REPO / path
        for target, paths in data_files().items()
        for path in paths
    }
    with zipfile.ZipFile(wheel) as zf:
        for name, source in shipped.items():
            assert zf.read(name) == source.read_bytes(), name  # docs and examples, as in git
    targets = {name.split(".data/data/", 1)[1] for name in shipped}
    assert {"share/doc/soulspot/production.example.toml", "share/doc/soulspot/deployment.md"} <= (
        targets
    )
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
