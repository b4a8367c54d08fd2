"""Docs stay findable and their links resolve: docs/index.md links every page under docs/,
and relative links in the kernel's pages point at files that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_index_links_every_page():
    index = (DOCS / "index.md").read_text()
    linked = {(DOCS / m).resolve() for m in LINK.findall(index)}
    pages = {p.resolve() for p in DOCS.rglob("*.md") if p.name != "index.md"}
    missing = sorted(str(p.relative_to(DOCS)) for p in pages - linked)
    assert not missing, f"docs/index.md does not link: {missing}"


@pytest.mark.parametrize(
    "page",
    [
        "docs/index.md",
        "docs/plugins.md",
        "docs/architecture.md",
        "README.md",
        "examples/soulspot-hello/README.md",
    ],
)
def test_relative_links_resolve(page):
    path = REPO / page
    for target in LINK.findall(path.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (path.parent / target).exists(), f"{page} links to missing {target}"


def test_plugins_md_anchors_exist():
    text = (DOCS / "plugins.md").read_text()
    headings = {
        re.sub(r"[^a-z0-9 _-]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#{2,3} (.+)$", text, re.M)
    }
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        assert anchor in headings, f"docs/plugins.md links to missing #{anchor}"


ENV_VAR = re.compile(r"\bSOULSPOT__([A-Za-z<>]+)__")


def test_one_spelling_of_config_env_vars():
    """Config env vars are ``SOULSPOT__<SECTION>__<KEY>`` with the plugin's name as section
    (``SOULSPOT__SQLITE__...``), on every page — never ``SOULSPOT__PLUGINS__SQLITE__...``."""
    from soulspot.testing import installed_plugins

    sections = {"kernel", "hello", "section", "name", "plugin", *installed_plugins()}
    pages = [*DOCS.rglob("*.md"), REPO / "README.md", *REPO.glob("examples/*/README.md")]
    for page in pages:
        for section in ENV_VAR.findall(page.read_text()):
            if section.startswith("<"):
                continue  # a placeholder: SOULSPOT__<NAME>__<KEY>
            assert section.lower() in sections, f"{page.relative_to(REPO)}: SOULSPOT__{section}__"
