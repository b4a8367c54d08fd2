"""The owner's Settings and API documentation pages (issue 19): the effective configuration
with each value's origin and secrets masked, and ``/api/openapi.json`` rendered without
JavaScript; both for the owner only."""

from __future__ import annotations

import html as html_lib
import json
import re
import shlex
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask, request
from kernel_support import BUILTINS, settings_rows

from soulspot import hookimpl
from soulspot.types import PluginManifest, User

SECRET = "correct horse battery staple"


class GuestAuth:
    """``X-Test-User: owner`` is the owner, ``guest`` a signed-in user who is not."""

    def current_user(self) -> User | None:
        who = request.headers.get("X-Test-User")
        if who in ("owner", "guest"):
            return User(who, who.title(), is_owner=who == "owner")
        return None

    def login_url(self, next_url: str) -> str:
        return "/login?next=" + quote(next_url, safe="")


class GuestAuthPlugin:
    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(provides=("auth",))

    @hookimpl
    def auth_provider(self, app: Flask) -> GuestAuth:
        return GuestAuth()


@pytest.fixture
def app(make_app) -> Flask:
    off = [b for b in BUILTINS if b not in ("sqlite", "backup")]
    return make_app(
        {"kernel": {"threads": 3}},
        plugins=[("guestauth", GuestAuthPlugin())],
        disable=off,
        env={"SOULSPOT__BACKUP__PASSPHRASE": SECRET},
    )


def test_settings_show_values_origins_and_mask_secrets(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/settings", headers={"X-Test-User": "owner"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert SECRET not in text
    rows = settings_rows(text)
    assert rows["threads"] == ("3", "override")
    assert rows["passphrase"] == ('"********"', "env SOULSPOT__BACKUP__PASSPHRASE")
    assert rows["keep_last"] == ("7", "default")
    assert "[plugins.backup]" in text and "[kernel]" in text
    assert 'href="/settings"' in client.get("/", headers={"X-Test-User": "owner"}).get_data(
        as_text=True
    )


@pytest.mark.parametrize("path", ["/settings", "/api-docs"])
def test_owner_pages_refuse_others(app: Flask, path: str) -> None:
    client = app.test_client()
    assert client.get(path, headers={"X-Test-User": "guest"}).status_code == 403
    assert client.get(path).status_code == 302  # signed out: the sign-in first


def test_api_docs_render_every_operation_of_the_openapi_document(app: Flask) -> None:
    client = app.test_client()
    owner = {"X-Test-User": "owner"}
    spec = client.get("/api/openapi.json", headers=owner).get_json()
    page = client.get("/api-docs", headers=owner)
    assert page.status_code == 200
    text = html_lib.unescape(page.get_data(as_text=True))
    assert "<script" not in text.replace('<script src="/static/', "")
    for path, methods in spec["paths"].items():
        for method in methods:
            assert f'{method.upper()}</span> <code class="op-path">{path}</code>' in text, path
    assert "BackupList" in text and 'href="/api/openapi.json"' in text


DOC = (Path(__file__).resolve().parents[2] / "docs" / "web-pages.md").read_text()


def test_every_command_of_the_doc_runs_and_agrees_with_the_page(app: Flask, run_cli) -> None:
    commands = [
        shlex.split(line[2:])
        for block in re.findall(r"```console\n(.*?)```", DOC, re.S)
        for line in block.splitlines()
        if line.startswith("$ ")
    ]
    assert commands, "no commands in docs/web-pages.md"
    env = {"SOULSPOT__BACKUP__PASSPHRASE": SECRET}
    for args in commands:
        assert args[0] == "soulspot", args
        result = run_cli(args[1:], env=env, only=["sqlite", "backup"])
        assert result.exit_code == 0, (args, result.output)
        assert SECRET not in result.output
    shown = json.loads(
        run_cli(["config", "show", "--json"], env=env, only=["sqlite", "backup"]).stdout
    )
    by_key = {row["key"]: row["source"] for row in shown}
    assert by_key["plugins.backup.passphrase"] == "env SOULSPOT__BACKUP__PASSPHRASE"
    page = app.test_client().get("/settings", headers={"X-Test-User": "owner"})
    shown = settings_rows(page.get_data(as_text=True))
    assert shown["passphrase"][1] == by_key["plugins.backup.passphrase"]


@pytest.mark.parametrize("path", sorted(set(re.findall(r"\(`(/[a-z/.-]+)`\)", DOC))))
def test_every_page_the_doc_names_is_served(app: Flask, path: str) -> None:
    resp = app.test_client().get(path, headers={"X-Test-User": "owner"})
    assert resp.status_code == 200, path
