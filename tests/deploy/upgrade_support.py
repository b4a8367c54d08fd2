"""Wheels and installs for the upgrade drills: the current SoulSpot and a "next" version built
from a copy of this tree, installed into release venvs offline.

The next version adds one migration (to the backup plugin, which has none today): a unique
index on ``drill_note.body``. On data with duplicate bodies it fails — a migration that breaks
on real data — and once the duplicates are gone it applies; its downgrade drops the index.
The version after it migrates further but never becomes ready, and cannot downgrade.
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import soulspot

DRILL_MIGRATION = '''

# --- upgrade drill (added by tests/deploy/upgrade_support.py to the "next" version) -------
from soulspot.types import Migration as _DrillMigration


def _drill_up(db, migrator):
    db.execute_sql("CREATE TABLE IF NOT EXISTS drill_note (id INTEGER PRIMARY KEY, body TEXT)")
    db.execute_sql("CREATE UNIQUE INDEX drill_note_body ON drill_note (body)")


def _drill_down(db, migrator):
    db.execute_sql("DROP INDEX drill_note_body")


@hookimpl
def migrations():
    return [_DrillMigration("backup", 1, "drill notes are unique", _drill_up, _drill_down)]
'''


#: The version after "next": it migrates further (schema 2 of the drill) but never becomes
#: ready, and its downgrade of schema 2 cannot run, so its rollback restores the backup.
NEVER_READY = (
    DRILL_MIGRATION.replace(
        '    return [_DrillMigration("backup", 1, "drill notes are unique", _drill_up, '
        "_drill_down)]",
        '    return [\n'
        '        _DrillMigration("backup", 1, "drill notes are unique", _drill_up, _drill_down),\n'
        '        _DrillMigration("backup", 2, "drill tags", _drill_v2_up, _drill_v2_down),\n'
        "    ]",
    )
    + '''

def _drill_v2_up(db, migrator):
    db.execute_sql("CREATE TABLE drill_tag (id INTEGER PRIMARY KEY, name TEXT)")


def _drill_v2_down(db, migrator):
    raise RuntimeError("this downgrade cannot run (upgrade drill)")


_drill_health_checks = health_checks


@hookimpl
def health_checks(app):
    from soulspot.types import CheckResult, HealthCheck

    def never():
        return CheckResult("fail", "this version never becomes ready (upgrade drill)")

    return [*_drill_health_checks(app), HealthCheck("drill", never, critical=True)]
'''
)


def next_version(version: str, steps: int = 1) -> str:
    major, minor, patch = (int(part) for part in version.split("."))
    return f"{major}.{minor}.{patch + steps}"


def _copy_tree(dest: Path) -> None:
    from support.build_tree import copy_build_tree

    copy_build_tree(dest)


def start_wheel_build(work: Path, *, drill: int) -> tuple[subprocess.Popen[str], Path, str]:
    """Start building a wheel from a copy of the tree: the current version (``drill=0``),
    "next" (1) or the never-ready one after it (2). Returns the build process, the output
    folder and the version."""
    version = next_version(soulspot.__version__, drill) if drill else soulspot.__version__
    src, out = work / f"src-{version}", work / f"dist-{version}"
    _copy_tree(src)
    if drill:
        init = src / "kernel" / "soulspot" / "__init__.py"
        text, count = re.subn(
            r'^__version__ = "[^"]+"', f'__version__ = "{version}"', init.read_text(), flags=re.M
        )
        assert count == 1, "kernel/soulspot/__init__.py: no __version__ line"
        init.write_text(text)
        plugin = src / "plugins" / "soulspot_backup" / "plugin.py"
        assert "def migrations" not in plugin.read_text(), "the backup plugin has migrations now"
        plugin.write_text(plugin.read_text() + (DRILL_MIGRATION if drill == 1 else NEVER_READY))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(src),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, out, version


def finish_wheel_build(proc: subprocess.Popen[str], out: Path, version: str) -> Path:
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output[-3000:]
    [wheel] = out.glob(f"soulspot-{version}-*.whl")
    return wheel


def dependencies_folder(dest: Path) -> Path:
    """SoulSpot's dependencies without SoulSpot: every entry of the test venv's site-packages
    but our own editable install, linked into ``dest``. On PYTHONPATH, a release venv then
    imports its dependencies from here (offline) and SoulSpot from itself."""
    dest.mkdir(parents=True)
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        name = entry.name.lower()
        if "soulspot" in name or name.startswith("__editable__") or name.endswith(".pth"):
            continue
        (dest / entry.name).symlink_to(entry)
    return dest
