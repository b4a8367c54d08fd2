"""``soulspot plugin new NAME``: a new plugin distribution whose tests pass as generated.

The files come from ``plugin_template/`` (shipped as package data) with a few words
replaced — no template engine, no cookiecutter. What they contain is the layout
docs/plugins.md describes: PEP 621 ``pyproject.toml`` with the entry point, an import-light
``plugin.py``, a config model, a page, a validated JSON API, a table with its migration, CLI
commands, a health check, an audit event, tests on ``soulspot.testing``, a README and a CI
workflow.
"""

from __future__ import annotations

import keyword
import re
from importlib.resources import files
from pathlib import Path

from . import __version__

#: What a plugin name may look like: it becomes an entry-point name, a config section, a
#: Python package suffix (``soulspot_<name>``), a URL path and a table-name prefix.
NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")

#: template file -> path in the new distribution (``{package}`` and ``{name}`` filled in).
LAYOUT = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "gitignore.tmpl": ".gitignore",
    "ci.yml.tmpl": ".github/workflows/ci.yml",
    "init.py.tmpl": "{package}/__init__.py",
    "plugin.py.tmpl": "{package}/plugin.py",
    "config.py.tmpl": "{package}/config.py",
    "models.py.tmpl": "{package}/models.py",
    "views.py.tmpl": "{package}/views.py",
    "commands.py.tmpl": "{package}/commands.py",
    "index.html.tmpl": "{package}/templates/{name}/index.html",
    "test_plugin.py.tmpl": "tests/test_{name}.py",
}


class ScaffoldError(ValueError):
    """A name or target the scaffold cannot use (the message says why)."""


def check_name(name: str) -> None:
    if not NAME.match(name) or name.endswith("_") or "__" in name:
        raise ScaffoldError(
            f"plugin name {name!r} is not usable: expected 2 to 31 lowercase letters, digits "
            "and single underscores, starting with a letter (e.g. 'notes', 'play_counts')"
        )
    if keyword.iskeyword(name):
        raise ScaffoldError(f"plugin name {name!r} is a Python keyword; pick another")


def kernel_range(version: str = __version__) -> str:
    """The kernel versions a new plugin declares: this minor release up to the next major."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return f">={major}.{minor},<{max(major, 0) + 1}.0"


def words(name: str) -> dict[str, str]:
    title = name.replace("_", " ").capitalize()
    return {
        "@@NAME@@": name,
        "@@NAME_UPPER@@": name.upper(),
        "@@PACKAGE@@": f"soulspot_{name}",
        "@@DIST@@": f"soulspot-{name.replace('_', '-')}",
        "@@CLASS@@": "".join(part.capitalize() for part in name.split("_")),
        "@@TITLE@@": title,
        "@@KERNEL@@": kernel_range(),
        "@@KERNEL_DEP@@": f"soulspot{kernel_range()}",
    }


def create(name: str, target: Path) -> list[Path]:
    """Write a new plugin distribution for ``name`` into ``target`` (which must not exist or
    be empty); returns the files written."""
    check_name(name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not empty; pick another --dir")
    replace = words(name)
    source = files("soulspot") / "plugin_template"
    written: list[Path] = []
    for template, relative in LAYOUT.items():
        text = (source / template).read_text(encoding="utf-8")
        for word, value in replace.items():
            text = text.replace(word, value)
        path = target / relative.format(package=replace["@@PACKAGE@@"], name=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    typed = target / replace["@@PACKAGE@@"] / "py.typed"
    typed.write_text("")  # PEP 561: type checkers read this plugin's hints too
    written.append(typed)
    return written
