"""First run: no client id -> the setup page (loopback or the one-time token only)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from spotify_support import REDIRECT_URI, Browser, audit_events

from support.oauth_provider import LocalOAuthProvider

LAN = "192.168.1.50"


@pytest.fixture
def fresh(spotify_app: Callable[..., Flask]) -> Flask:
    return spotify_app({"client_id": ""})


def _form_token(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, page
    return match.group(1)


def test_pages_lead_to_setup_which_shows_the_exact_redirect_uri(fresh: Flask) -> None:
    browser = Browser(fresh)
    assert browser.get("/").headers["Location"] == "/auth/setup"
    assert browser.get("/auth/login").headers["Location"] == "/auth/setup"
    page = browser.get("/auth/setup")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f'<code id="redirect-uri">{REDIRECT_URI}</code>' in text
    assert 'name="csrf_token"' in text


def test_setup_stores_the_client_id_and_sign_in_works_without_restart(
    fresh: Flask, provider: LocalOAuthProvider
) -> None:
    browser = Browser(fresh)
    page = browser.get("/auth/setup").get_data(as_text=True)
    resp = browser.post(
        "/auth/setup",
        {"csrf_token": _form_token(page, "csrf_token"), "client_id": provider.client.client_id},
    )
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/auth/login"
    assert browser.sign_in().status_code == 302
    assert browser.get("/").status_code == 200
    (event,) = audit_events(fresh, "auth.setup_client_id")
    assert event.details["client_id"] == "soulspot-test" and event.ip == "127.0.0.1"


def test_setup_refuses_other_machines_without_the_token(fresh: Flask) -> None:
    stranger = Browser(fresh, remote_addr=LAN)
    assert stranger.get("/auth/setup").status_code == 403
    assert stranger.post("/auth/setup", {"client_id": "attackerclient"}).status_code == 403
    assert stranger.get("/auth/setup?token=guess").status_code == 403


def test_the_one_time_token_printed_by_serve_opens_setup(
    fresh: Flask, provider: LocalOAuthProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    from soulspot_spotify import plugin

    plugin.before_serve(fresh)
    printed = capsys.readouterr().err  # start-up lines go to stderr: stdout is JSON logs
    token = re.search(r"/auth/setup\?token=([\w-]+)", printed)
    assert token, printed
    remote = Browser(fresh, remote_addr=LAN)
    page = remote.get(f"/auth/setup?token={token.group(1)}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert _form_token(text, "setup_token") == token.group(1)
    saved = remote.post(
        "/auth/setup",
        {"setup_token": token.group(1), "client_id": provider.client.client_id},
    )
    assert saved.status_code == 302
    # one time: the token is spent; the saved id stays until someone corrects it
    again = Browser(fresh, remote_addr=LAN).post(
        "/auth/setup", {"setup_token": token.group(1), "client_id": "anotherclient"}
    )
    assert again.status_code == 403
    assert "soulspot setup --client-id" in again.get_data(as_text=True)
    assert audit_events(fresh, "auth.setup_client_id")[-1].details["client_id"] == (
        provider.client.client_id
    )


def test_serve_prints_nothing_once_configured(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    from soulspot_spotify import plugin

    plugin.before_serve(app)
    printed = capsys.readouterr()
    assert "setup" not in printed.out + printed.err


def test_bad_client_id_is_a_validation_error(fresh: Flask) -> None:
    resp = Browser(fresh).post("/auth/setup", {"client_id": "bad id!"})
    assert resp.status_code == 422


def test_configured_in_file_means_setup_only_explains(app: Flask) -> None:
    page = Browser(app).get("/auth/setup").get_data(as_text=True)
    assert "set in the config file" in page
    assert Browser(app).post("/auth/setup", {"client_id": "otherclient1"}).status_code == 409


@pytest.mark.slow
def test_serve_prints_the_setup_link_for_the_port_it_serves_on(tmp_path: Path) -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import requests

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    env["SOULSPOT__KERNEL__DATA_DIR"] = str(tmp_path / "data")
    config = tmp_path / "empty.toml"
    config.write_text("")
    soulspot = Path(sys.executable).with_name("soulspot")
    proc = subprocess.Popen(
        [str(soulspot), "--config", str(config), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the setup link is on stderr, JSON logs on stdout
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "listening on" in line:
                break
        printed = "".join(lines)
        link = re.search(rf"http://127\.0\.0\.1:{port}/auth/setup\?token=[\w-]+", printed)
        assert link, printed
        page = requests.get(link.group(0), timeout=10).text
        assert f"http://127.0.0.1:{port}/auth/callback" in page
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def test_setup_refuses_clients_coming_through_a_same_host_proxy(
    spotify_app: Callable[..., Flask],
) -> None:
    # Behind a proxy on this machine without trusted_proxies, every client is 127.0.0.1, but
    # asks for the public name: nobody on the internet may claim an unconfigured instance.
    app = spotify_app(
        {"client_id": ""}, config={"kernel": {"public_url": "https://music.example.org"}}
    )
    client = app.test_client()
    proxied = client.get(
        "/auth/setup",
        base_url="https://music.example.org",
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert proxied.status_code == 403
