"""No private attribute of any library in ``kernel/`` and ``plugins/``: no ``obj._name`` of
an object we did not define, no ``super()._name`` (a private method override), no
name-mangled access, and no ``self._name`` inside a subclass of a library class (where it
could be the library's own). A short allow-list names the documented extension points."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "kernel").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")])

#: Underscore names that are documented API, and why.
ALLOWED = {
    # werkzeug's LocalProxy: "use _get_current_object() to get the proxied object"
    # (Flask docs, "Notes On Proxies")
    "_get_current_object",
    # collections.namedtuple's documented methods
    "_replace",
    "_asdict",
    "_fields",
}


def _own_classes(tree: ast.Module) -> set[str]:
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}


def _is_library_subclass(cls: ast.ClassDef, own: set[str]) -> bool:
    for base in cls.bases:
        if isinstance(base, ast.Subscript):
            base = base.value
        name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
        if name is None or name in own or name in ("object", "Protocol", "Generic"):
            continue
        if name.endswith(("Error", "Exception")) and isinstance(base, ast.Name):
            continue  # a builtin exception: nothing private to touch
        return True
    return False


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _mangled(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and "__" in name[1:]


def _defined_in(cls: ast.ClassDef) -> set[str]:
    """Underscore names the class itself defines: methods, ``self._x = ...`` assignments."""
    names = {n.name for n in cls.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    for node in ast.walk(cls):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            ):
                names.add(target.attr)
    return names


def _library_has(module: str, cls_name: str, name: str) -> bool:
    """Whether a library base of ``module.cls_name`` defines ``name`` (an override)."""
    import importlib

    try:
        cls = getattr(importlib.import_module(module), cls_name)
    except Exception:  # not importable here: the static checks still apply
        return False
    for base in cls.__mro__[1:]:
        if base.__module__.split(".")[0].startswith("soulspot"):
            continue
        if name in vars(base):
            return True
    return False


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts[1:] or ("sample",)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    own = _own_classes(tree)
    module_names = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    found: list[str] = []
    rel = path.relative_to(ROOT)
    module = _module_name(path)

    def visit(node: ast.AST, cls: ast.ClassDef | None) -> None:
        for child in ast.iter_child_nodes(node):
            inside = cls
            if isinstance(child, ast.ClassDef):
                inside = child if _is_library_subclass(child, own) else None
            if isinstance(child, ast.Attribute) and _private(child.attr):
                name, value = child.attr, child.value
                where = f"{rel}:{child.lineno}: .{name}"
                if name in ALLOWED:
                    pass
                elif _mangled(name):
                    found.append(where + " (name-mangled)")
                elif isinstance(value, ast.Call) and getattr(value.func, "id", "") == "super":
                    found.append(where + " (a library's private method)")
                elif isinstance(value, ast.Name) and value.id in ("self", "cls"):
                    if cls is not None and (
                        name not in _defined_in(cls) or _library_has(module, cls.name, name)
                    ):
                        found.append(where + " (a library class's own private)")
                elif isinstance(value, ast.Name) and value.id in module_names:
                    found.append(where + " (a module's private name)")
                else:
                    found.append(where)
            if (
                isinstance(child, ast.FunctionDef)
                and cls is not None
                and _private(child.name)
                and child.name not in ALLOWED
                and _library_has(module, cls.name, child.name)
            ):
                found.append(f"{rel}:{child.lineno}: def {child.name} (a private override)")
            visit(child, inside)

    visit(tree, None)
    return found


def test_no_library_internals_in_kernel_and_plugins() -> None:
    assert len(SOURCES) > 50
    found = [f for path in SOURCES for f in _findings(path)]
    assert found == [], "\n".join(found)


def test_the_check_catches_what_it_is_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import logging\n"
        "from flask import request\n"
        "class Mine(logging.StreamHandler):\n"
        "    def emit(self, record):\n"
        "        self._mine = self.terminator\n"
        "        super()._open()\n"
        "        return self._mine, self.lock, self._theirs\n"
        "class Ours:\n"
        "    def f(self):\n"
        "        self._fine = 1\n"
        "        return request._get_current_object(), logging._lock, self.obj._MemoryStorage__x\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = _findings(sample)
    finally:
        ROOT = saved
    assert [f.split(": ", 1)[1] for f in found] == [
        "._open (a library's private method)",
        "._theirs (a library class's own private)",
        "._lock (a module's private name)",
        "._MemoryStorage__x (name-mangled)",
    ]
