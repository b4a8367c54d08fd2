"""``make demo`` works end to end, as a newcomer uses it: scripts/demo.sh starts the Spotify
stand-in (with a generated library) and SoulSpot; signing in through the stand-in's consent
page shows the owner's library in the vault within a minute, and its edits become history."""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from deploy_support import BIN, REPO, clean_env, free_port, wait_for


def sign_in_as(app: str, user: str) -> requests.Session:
    """Open the app, pick ``user`` on the stand-in's consent page and approve."""
    session = requests.Session()
    consent = session.get(f"{app}/", timeout=30)
    assert consent.status_code == 200 and "Sign in as" in consent.text, consent.text[:500]
    action = re.search(r'<form method="post" action="([^"]+)"', consent.text)
    assert action is not None
    provider = consent.url.split("/authorize")[0]
    done = session.post(
        provider + html.unescape(action.group(1)),
        data={"user": user, "decision": "approve"},
        timeout=60,
    )
    assert done.status_code == 200 and done.url.startswith(app), (done.status_code, done.url)
    return session


def sync_now(session: requests.Session, app: str) -> dict[str, Any]:
    """Press "Sync now" and wait (60 s at most) for a run of its own to finish."""
    before = session.get(f"{app}/api/library/status", timeout=30).json()["last_run"]

    def press() -> float:
        pressed = session.post(
            f"{app}/library/sync", data={"full": "0"}, headers={"Origin": app}, timeout=30
        )
        assert pressed.status_code == 200, pressed.text[:500]
        return time.monotonic()

    pressed_at = press()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status: dict[str, Any] = session.get(f"{app}/api/library/status", timeout=30).json()
        last = status["last_run"]
        if last and last != before and last["status"] != "running" and not status["running"]:
            assert last["status"] == "ok", repr(last)
            return status
        if last == before and not status["running"] and time.monotonic() - pressed_at > 5:
            # the page said "already running": the previous run's thread was still ending
            # (its library_synced hooks); press again, as the owner would
            pressed_at = press()
        time.sleep(0.2)
    raise AssertionError(f"no library sync finished within 90 s: {status}")


@pytest.mark.slow
def test_make_demo_signs_in_and_shows_the_library(tmp_path: Path) -> None:
    app_port, idp_port = free_port(), free_port()
    app = f"http://127.0.0.1:{app_port}"
    env = clean_env(
        {
            "BIN": str(BIN),
            "DEMO_PORT": str(app_port),
            "DEMO_PROVIDER_PORT": str(idp_port),
            "DEMO_DATA_DIR": str(tmp_path / "data-demo"),
            "DEMO_MUTATE_EVERY": "0",  # edits on demand below, so none falls into a sync
            "DEMO_SYNC_SCHEDULE": "off",  # only our own syncs
            "DEMO_LIBRARY_SCALE": "0.2",  # the same kind of library, a fifth the size (fast)
        }
    )
    log = tmp_path / "demo.log"  # a file, not a pipe: nobody has to drain it meanwhile
    demo = subprocess.Popen(
        ["bash", "scripts/demo.sh"],
        cwd=REPO,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as a whole below
    )
    try:
        wait_for(f"{app}/health/live", deadline=60, proc=demo)
        session = sign_in_as(app, "alice")
        home = session.get(f"{app}/", timeout=30)
        assert home.status_code == 200 and "Alice" in home.text
        first = sync_now(session, app)
        assert first["counts"]["playlists"] == 12 and first["counts"]["liked"] == 500
        liked = session.get(f"{app}/library/liked", timeout=30)
        assert liked.status_code == 200 and "open.spotify.com/track/" in liked.text
        edits = requests.post(f"http://127.0.0.1:{idp_port}/_standin/mutate", timeout=30)
        assert edits.status_code == 200 and len(edits.json()) == 5
        again = sync_now(session, app)
        assert again["last_run"]["id"] != first["last_run"]["id"]
        assert again["counts"]["changes"] > first["counts"]["changes"]
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    output = log.read_text()
    assert "library of 'alice': 12 playlists" in output
    assert "spotify: alice " in output  # the stand-in printed its edits
