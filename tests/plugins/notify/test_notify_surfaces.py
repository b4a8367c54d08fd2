"""The test button, `soulspot notify test`, config errors and secrets."""

from __future__ import annotations

import re
from typing import Any

from support.webhook_receiver import WebhookReceiver

BASE = "http://127.0.0.1:8765"


def test_the_page_lists_events_and_its_button_sends_a_test(
    notify_app: Any, hook: WebhookReceiver
) -> None:
    app = notify_app(disable=["spotify", "library", "collection"])  # no sign-in: loopback rule
    client = app.test_client()
    page = client.get("/notify", base_url=BASE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "backup_failed" in html and "reauth_due" in html
    assert hook.url not in html  # the URL is a secret
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    sent = client.post(
        "/notify/test", base_url=BASE, data={"csrf_token": token}, headers={"Origin": BASE}
    )
    assert sent.status_code == 302
    [post] = hook.wait_for(1)
    assert post["title"] == "SoulSpot: test notification"
    assert "Test notification sent." in client.get("/notify", base_url=BASE).get_data(as_text=True)


def test_cli_test_sends_and_says_so(run_cli: Any, hook: WebhookReceiver) -> None:
    result = run_cli(["notify", "test"], config={"plugins": {"notify": {"urls": [hook.url]}}})
    assert result.exit_code == 0, result.output
    assert "Test notification sent to 1 service(s)." in result.output
    assert hook.wait_for(1)[0]["title"] == "SoulSpot: test notification"


def test_cli_test_without_a_service_or_with_a_failing_one_exits_1(run_cli: Any) -> None:
    none = run_cli(["notify", "test"])
    assert none.exit_code == 1
    assert "no notification service is configured" in none.output
    with WebhookReceiver(status=500) as broken:
        failed = run_cli(["notify", "test"], config={"plugins": {"notify": {"urls": [broken.url]}}})
    assert failed.exit_code == 1
    assert "not every one of the 1 service(s) accepted" in failed.output


def test_a_url_apprise_cannot_use_is_a_config_error_that_hides_it(run_cli: Any) -> None:
    secret = "nosuchscheme://hunter2-token@example"
    result = run_cli(["config", "check"], config={"plugins": {"notify": {"urls": [secret]}}})
    assert result.exit_code == 2
    assert "urls" in result.output and "Apprise" in result.output
    assert "hunter2" not in result.output


def test_urls_from_a_file_one_per_line(run_cli: Any, tmp_path: Any, hook: WebhookReceiver) -> None:
    with WebhookReceiver() as second:
        secret = tmp_path / "notify-urls"
        secret.write_text(f"{hook.url}\n\n{second.url}\n")
        result = run_cli(["notify", "test"], env={"SOULSPOT__NOTIFY__URLS_FILE": str(secret)})
        assert result.exit_code == 0, result.output
        assert "2 service(s)" in result.output
        assert second.wait_for(1) and hook.wait_for(1)
    shown = run_cli(["config", "show"], env={"SOULSPOT__NOTIFY__URLS_FILE": str(secret)})
    assert "127.0.0.1" not in shown.output.split("plugins.notify.urls", 1)[1].splitlines()[0]
