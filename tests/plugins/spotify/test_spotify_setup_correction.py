"""A mistyped client id never locks the owner out: until a sign-in has worked with it, the
setup page stays open to this machine and to a fresh setup link, pages lead there (not into
Spotify's error), and ``soulspot setup --client-id`` corrects it from the server."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from spotify_support import Browser, audit_events

from support.oauth_provider import LocalOAuthProvider

LAN = "192.168.1.50"
TYPO = "s0ulspot-tset"


def _save(browser: Browser, client_id: str, token: str = "") -> int:
    page = browser.get(f"/auth/setup?token={token}").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]*)"', page)
    csrf = match.group(1) if match else ""
    form = {"csrf_token": csrf, "client_id": client_id, "setup_token": token}
    return browser.post("/auth/setup", form).status_code


@pytest.fixture
def fresh_dir(tmp_path: Path) -> Path:
    return tmp_path / "first-run"


@pytest.fixture
def fresh(spotify_app: Callable[..., Flask], fresh_dir: Path) -> Flask:
    return spotify_app({"client_id": ""}, data_dir=fresh_dir)


def test_a_mistyped_client_id_is_corrected_from_this_machine(
    fresh: Flask, provider: LocalOAuthProvider
) -> None:
    owner = Browser(fresh)
    assert _save(owner, TYPO) == 302
    # every page leads to the setup page (with the saved id and a sign-in button), not into
    # Spotify's "Invalid client"
    assert owner.get("/").headers["Location"] == "/auth/setup"
    page = owner.get("/auth/setup").get_data(as_text=True)
    assert f'<code id="client-id">{TYPO}</code>' in page
    assert 'href="/auth/login"' in page and 'name="client_id"' in page
    assert _save(owner, "  " + provider.client.client_id + "\n") == 302  # pasted with spaces
    assert owner.sign_in().status_code == 302
    assert owner.get("/").status_code == 200
    saved = [e.details["client_id"] for e in audit_events(fresh, "auth.setup_client_id")]
    assert sorted(saved) == sorted([TYPO, provider.client.client_id])
    # the id has now signed someone in: only the signed-in owner may change it
    assert Browser(fresh).get("/auth/setup").headers["Location"].startswith("/auth/login")
    assert owner.get("/auth/setup").status_code == 200


def test_other_machines_see_the_saved_id_but_need_a_fresh_setup_link(
    fresh: Flask, provider: LocalOAuthProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    from soulspot_spotify import plugin

    assert _save(Browser(fresh), TYPO) == 302
    stranger = Browser(fresh, remote_addr=LAN)
    page = stranger.get("/auth/setup")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert TYPO in text and 'name="client_id"' not in text
    assert "soulspot setup --client-id" in text
    assert _save(stranger, provider.client.client_id) == 403
    # the next start of `soulspot serve` prints a fresh link, naming the unproven id
    plugin.before_serve(fresh)
    printed = capsys.readouterr().err
    assert TYPO in printed, printed
    token = re.search(r"/auth/setup\?token=([\w-]+)", printed)
    assert token, printed
    assert _save(stranger, provider.client.client_id, token.group(1)) == 302
    assert stranger.get("/").headers["Location"] == "/auth/setup"


def test_soulspot_setup_corrects_the_client_id_of_a_running_instance(
    fresh: Flask,
    fresh_dir: Path,
    provider: LocalOAuthProvider,
    run_cli: Callable[..., Result],
) -> None:
    owner = Browser(fresh)
    assert _save(owner, TYPO) == 302
    spotify = {**provider.client_config(), "client_id": ""}
    config = {"plugins": {"spotify": spotify}}

    shown = run_cli(["setup"], config=config, data_dir=fresh_dir)
    assert shown.exit_code == 0, shown.output
    assert f"client id: {TYPO} (saved by setup; nobody has signed in" in shown.output
    assert "redirect URI to register with Spotify: http://127.0.0.1:8765/auth/callback" in (
        shown.output
    )

    bad = run_cli(["setup", "--client-id", "no spaces!"], config=config, data_dir=fresh_dir)
    assert bad.exit_code == 2
    assert "is not a Spotify client id" in bad.output
    assert "Traceback" not in bad.output

    fixed = run_cli(
        ["setup", "--client-id", provider.client.client_id], config=config, data_dir=fresh_dir
    )
    assert fixed.exit_code == 0, fixed.output
    assert f"saved Spotify client id {provider.client.client_id}" in fixed.output
    # the app that is already running signs in with it, no restart
    assert owner.sign_in().status_code == 302
    assert owner.get("/").status_code == 200
    (event,) = [
        e for e in audit_events(fresh, "auth.setup_client_id") if e.details.get("via") == "cli"
    ]
    assert event.details["client_id"] == provider.client.client_id


def test_soulspot_setup_refuses_when_the_config_sets_the_client_id(
    provider: LocalOAuthProvider, run_cli: Callable[..., Result]
) -> None:
    result = run_cli(
        ["setup", "--client-id", "abcdefgh1234"],
        config={"plugins": {"spotify": provider.client_config()}},
    )
    assert result.exit_code == 2
    assert "set in the config" in result.output


@pytest.mark.parametrize(
    ("where", "said"),
    [("file", "config file"), ("env", "environment variable SOULSPOT__SPOTIFY__CLIENT_ID")],
)
def test_soulspot_setup_says_where_the_configured_client_id_comes_from(
    run_cli: Callable[..., Result], where: str, said: str
) -> None:
    client_id = "abcdef0123456789abcdef0123456789"
    if where == "file":
        result = run_cli(["setup"], config={"plugins": {"spotify": {"client_id": client_id}}})
    else:
        result = run_cli(["setup"], env={"SOULSPOT__SPOTIFY__CLIENT_ID": client_id})
    assert result.exit_code == 0, result.output
    assert f"client id: {client_id} ({said}; " in result.stdout


def test_the_setup_page_points_to_the_offline_demo(fresh: Flask) -> None:
    page = Browser(fresh).get("/auth/setup").get_data(as_text=True)
    assert "<code>make demo</code> shows every page offline" in page
