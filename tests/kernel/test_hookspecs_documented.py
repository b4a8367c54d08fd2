"""Meta-test: every hookspec has a reference section in docs/plugins.md (heading = hook name,
naming each argument) and is exercised by a test (a ``@hookimpl`` of it, or a call through
``.hook.<name>(`` or ``api.hook(app).<name>(``) somewhere under tests/. Reference headings
that name no hook fail too."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from soulspot import hookspecs

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "plugins.md"
HOOKS = sorted(
    name for name, obj in vars(hookspecs).items() if callable(obj) and hasattr(obj, "soulspot_spec")
)


def _reference_sections() -> dict[str, str]:
    """``{hook name: section text}`` from the "Hook reference" part of docs/plugins.md."""
    text = DOC.read_text()
    start = text.index("## Hook reference")
    end = text.find("\n## ", start + 1)
    reference = text[start : end if end != -1 else None]
    parts = re.split(r"^### `([a-z_]+)`\s*$", reference, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _test_sources() -> dict[Path, str]:
    here = Path(__file__).resolve()
    return {
        path: path.read_text() for path in (REPO / "tests").rglob("*.py") if path.resolve() != here
    }


def test_there_are_hooks():
    assert len(HOOKS) >= 15
    assert {"manifest", "startup", "storage", "auth_provider", "jobs"} <= set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_reference_section(name):
    sections = _reference_sections()
    assert name in sections, f"docs/plugins.md has no '### `{name}`' under '## Hook reference'"
    body = sections[name]
    assert len(body.split()) >= 15, f"the section of {name} says too little"
    spec = getattr(hookspecs, name)
    for arg in inspect.signature(spec).parameters:
        assert f"`{arg}`" in body or f"{arg}:" in body, f"section of {name} never names {arg!r}"
    if spec.soulspot_spec.get("firstresult"):
        assert "firstresult" in body.lower() or "first result" in body.lower(), name


def test_reference_names_only_real_hooks():
    assert set(_reference_sections()) <= set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_exercised_by_a_test(name):
    implemented = re.compile(rf"@hookimpl[^\n]*\n(?:[ \t]*@[^\n]*\n)*[ \t]*def {name}\(", re.M)
    called = re.compile(rf"\.hook\.{name}\(|\bhook\.{name}\(|\bhook\([^)]*\)\.{name}\(")
    users = [
        path.relative_to(REPO)
        for path, text in _test_sources().items()
        if implemented.search(text) or called.search(text)
    ]
    assert users, f"no test under tests/ implements or calls the hook {name!r}"
