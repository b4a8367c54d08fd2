"""docs/collection.md says only what is true: its commands and options exist, its config
example is valid, its API paths are in the OpenAPI document."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from collection_support import ONLY, ListVault, VaultPlugin

DOC = (Path(__file__).resolve().parents[3] / "docs" / "collection.md").read_text()


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.S)


def test_every_command_and_option_in_the_doc_exists(run_cli):
    commands = [
        shlex.split(line[2:].split(">")[0])
        for block in blocks("console")
        for line in block.splitlines()
        if line.startswith("$ soulspot collection")
    ]
    assert len(commands) >= 7
    for args in commands:
        sub = args[2]
        helped = run_cli(["collection", sub, "--help"], only=["sqlite", "library", "collection"])
        assert helped.exit_code == 0, (args, helped.output)
        for option in (a for a in args[3:] if a.startswith("--")):
            assert option in helped.output, (args, option)


def test_the_config_example_is_valid(make_app):
    (example,) = blocks("toml")
    settings = tomllib.loads(example)
    app = make_app(settings, only=ONLY, plugins=[("vault", VaultPlugin(ListVault()))])
    with app.app_context():
        from soulspot import api

        cfg = api.config_for("collection")
        assert [str(p) for p in cfg.music_dirs] == settings["plugins"]["collection"]["music_dirs"]


def test_every_api_path_in_the_doc_is_served(make_app):
    app = make_app(only=ONLY, plugins=[("vault", VaultPlugin(ListVault()))])
    paths = set(app.test_client().get("/api/openapi.json").get_json()["paths"])
    documented = set(re.findall(r"`(?:GET|POST|DELETE) (/api/collection/[a-z/_<>]+)", DOC))
    assert len(documented) >= 7
    for path in documented:
        assert path.replace("<track_id>", "{track_id}") in paths, path
