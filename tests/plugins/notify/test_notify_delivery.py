"""How notifications leave: what a CLI command raised goes out before the command exits,
every service gets `timeout_seconds`, and nothing of a service's URL reaches the log."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from soulspot.testing import to_toml
from support.webhook_receiver import WebhookReceiver

SOULSPOT = str(Path(sys.executable).parent / "soulspot")
BASE = "http://127.0.0.1:8765"
NO_SIGN_IN = ["spotify", "library", "collection"]  # this machine may use every page


def test_what_a_cli_command_raised_is_sent_before_it_exits(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    """`soulspot deploy record rolled_back` is how an upgrade reports a roll-back (the only
    source of `deploy_failed`): its message was queued on a daemon thread and lost at exit."""
    config = tmp_path / "soulspot.toml"
    config.write_text(
        to_toml(
            {
                "kernel": {"data_dir": str(tmp_path / "data")},
                "plugins": {"notify": {"urls": [hook.url]}},
            }
        )
    )
    env = {"SOULSPOT_CONFIG": str(config), "PATH": "/usr/bin:/bin"}
    made = subprocess.run(
        [SOULSPOT, "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    done = subprocess.run(
        [SOULSPOT, "deploy", "record", "rolled_back", "--from", "1.0", "--to", "1.1"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    (received,) = hook.wait_for(1, timeout=1.0)  # sent already: the process has ended
    assert "rolled back" in (received["title"] + received["message"]).lower()


def test_the_test_send_gives_up_after_the_configured_timeout(
    notify_app: Any, hook: WebhookReceiver
) -> None:
    hook.stall.set()  # accepts the connection, never answers
    try:
        app = notify_app({"timeout_seconds": 0.5}, disable=NO_SIGN_IN)
        client = app.test_client()
        started = time.monotonic()
        answer = client.post("/api/notify/test", base_url=BASE, headers={"Origin": BASE})
        took = time.monotonic() - started
    finally:
        hook.release.set()
    assert answer.status_code == 502, answer.get_data(as_text=True)
    assert took < 3.0, took  # Apprise's own 4 s read timeout applied before


def test_a_failing_service_leaves_no_part_of_its_url_in_the_log(
    notify_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """ntfy's topic is its credential; Apprise's own warning names it."""
    with WebhookReceiver(status=500) as broken:
        topic = "my-secret-topic-xyz"
        url = broken.url.replace("json://", "ntfy://").rsplit("/", 1)[0] + f"/{topic}"
        app = notify_app({"urls": [url]}, disable=NO_SIGN_IN)
        with caplog.at_level(logging.DEBUG):
            answer = app.test_client().post(
                "/api/notify/test", base_url=BASE, headers={"Origin": BASE}
            )
    assert answer.status_code == 502
    logged = " ".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert "a notification service reported a problem" in logged
    assert topic not in logged
