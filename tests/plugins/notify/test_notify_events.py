"""What sends a notification, what does not, and how often."""

from __future__ import annotations

from typing import Any

import pytest

from soulspot import api, hookimpl
from soulspot.testing import run_jobs
from soulspot.types import CheckResult, HealthCheck, PluginManifest
from support.webhook_receiver import WebhookReceiver

AUDIT_CASES = [
    (
        "backup.failed",
        "failed",
        {"error": "no space left", "trigger": "scheduled"},
        "SoulSpot: backup failed",
        "no space left",
    ),
    (
        "library.sync_failed",
        "failed",
        {"error": "HTTP 500 from /me/tracks"},
        "SoulSpot: library sync failed",
        "/me/tracks",
    ),
    (
        "library.sync_failed",
        "failed",
        {"status": "paused", "error": "paused by Spotify until 14:00 UTC"},
        "SoulSpot: library sync paused by Spotify",
        "14:00",
    ),
    ("auth.sign_in", "refused", {"reason": "not_owner"}, "SoulSpot: sign-in refused", "not_owner"),
    (
        "deploy.rolled_back",
        "failed",
        {"reason": "readiness timeout", "to_version": "0.3.0"},
        "SoulSpot: upgrade failed",
        "0.3.0 failed and was rolled back: readiness timeout",
    ),
    (
        "deploy.rollback_failed",
        "failed",
        {"reason": "old version not ready"},
        "SoulSpot: upgrade failed and its rollback too",
        "act now",
    ),
]


@pytest.mark.parametrize(("event", "outcome", "details", "title", "text"), AUDIT_CASES)
def test_audit_events_that_need_the_owner_send_one_notification(
    notify_app: Any,
    hook: WebhookReceiver,
    event: str,
    outcome: str,
    details: dict[str, Any],
    title: str,
    text: str,
) -> None:
    app = notify_app()
    with app.app_context():
        api.audit(event, outcome=outcome, **details)
    [post] = hook.wait_for(1)
    assert post["title"] == title
    assert text in post["message"]


def test_ordinary_events_send_nothing_and_repeats_wait(
    notify_app: Any, hook: WebhookReceiver
) -> None:
    app = notify_app({"repeat_after_minutes": 60})
    with app.app_context():
        api.audit("auth.sign_in", outcome="ok")  # a good sign-in is no news
        api.audit("backup.created", backup_id="x")
        api.audit("backup.failed", outcome="failed", error="first")
        api.audit("backup.failed", outcome="failed", error="second, within the hour")
        api.audit("auth.sign_in", outcome="refused", reason="not_owner")
    posts = hook.wait_for(2)
    assert [p["title"] for p in posts] == ["SoulSpot: backup failed", "SoulSpot: sign-in refused"]
    assert "first" in posts[0]["message"]


def test_events_left_out_of_the_list_send_nothing(notify_app: Any, hook: WebhookReceiver) -> None:
    app = notify_app({"events": ["sign_in_refused"]})
    with app.app_context():
        api.audit("backup.failed", outcome="failed", error="x")
        api.audit("auth.sign_in", outcome="refused", reason="not_owner")
    assert [p["title"] for p in hook.wait_for(1)] == ["SoulSpot: sign-in refused"]


NO_AUTH_OR_BACKUP = ["spotify", "backup", "library", "collection"]


class Health:
    """Health checks named like the replication and spotify plugins' (their public names)."""

    def __init__(self) -> None:
        self.replication = CheckResult("ok", "in sync")
        self.spotify = CheckResult("ok", "configured and reachable")

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(provides=())

    @hookimpl
    def health_checks(self, app: Any) -> list[HealthCheck]:
        return [
            HealthCheck("replication", lambda: self.replication),
            HealthCheck("spotify", lambda: self.spotify),
        ]


def test_the_health_watch_reports_lag_and_reauth_once_until_they_clear(
    notify_app: Any, hook: WebhookReceiver
) -> None:
    health = Health()
    app = notify_app(plugins=[("health", health)], disable=NO_AUTH_OR_BACKUP)
    run_jobs(app, "notify.watch")  # all good: nothing
    health.replication = CheckResult("warn", "replica 95 s behind")
    health.spotify = CheckResult(
        "warn",
        "re-authorisation needed",
        {"accounts": [{"user": "alice", "reason": "refresh token expires soon", "days_left": 9}]},
    )
    run_jobs(app, "notify.watch")
    run_jobs(app, "notify.watch")  # still going on: not again
    health.replication = CheckResult("ok", "in sync")
    run_jobs(app, "notify.watch")  # cleared
    health.replication = CheckResult("warn", "replica 300 s behind")
    run_jobs(app, "notify.watch")  # back: news again
    posts = hook.wait_for(3)
    assert [p["title"] for p in posts] == [
        "SoulSpot: replication is lagging",
        "SoulSpot: sign in with Spotify again",
        "SoulSpot: replication is lagging",
    ]
    assert "95 s" in posts[0]["message"] and "300 s" in posts[2]["message"]
    assert "9 days left" in posts[1]["message"]


def test_a_check_that_could_not_look_clears_nothing(notify_app: Any, hook: WebhookReceiver) -> None:
    """Spotify unreachable for one check (no accounts looked at) is not "re-authorisation no
    longer due": the reminder waits for repeat_after_minutes, it does not come back at once."""
    health = Health()
    app = notify_app(plugins=[("health", health)], disable=NO_AUTH_OR_BACKUP)
    due = {"accounts": [{"user": "alice", "reason": "refresh token expires soon", "days_left": 9}]}
    for spotify in (
        CheckResult("warn", "re-authorisation needed", due),
        CheckResult("warn", "Spotify cannot be reached", {"reachable": False}),
        CheckResult("warn", "re-authorisation needed", due),
        CheckResult("warn", "Spotify cannot be reached", {"reachable": False}),
        CheckResult("warn", "re-authorisation needed", due),
    ):
        health.spotify = spotify
        run_jobs(app, "notify.watch")
    health.spotify = CheckResult("ok", "configured and reachable", {"accounts": []})
    run_jobs(app, "notify.watch")  # really cleared
    health.spotify = CheckResult("warn", "re-authorisation needed", due)
    run_jobs(app, "notify.watch")  # due again: news
    posts = hook.wait_for(2)
    assert [p["title"] for p in posts] == ["SoulSpot: sign in with Spotify again"] * 2


def test_a_failure_after_a_recovery_is_news_at_once(notify_app: Any, hook: WebhookReceiver) -> None:
    app = notify_app({"repeat_after_minutes": 60})
    with app.app_context():
        api.audit("backup.failed", outcome="failed", error="first")
        api.audit("backup.created", backup_id="x")  # it works again
        api.audit("backup.failed", outcome="failed", error="second")
    posts = hook.wait_for(2)
    assert [p["message"].split(": ", 1)[1][:6] for p in posts] == ["first.", "second"]


def test_reauth_far_away_is_not_news(notify_app: Any, hook: WebhookReceiver) -> None:
    health = Health()
    health.spotify = CheckResult(
        "warn", "x", {"accounts": [{"user": "alice", "reason": "soon", "days_left": 30}]}
    )
    health.replication = CheckResult("warn", "marker")
    app = notify_app(plugins=[("health", health)], disable=NO_AUTH_OR_BACKUP)
    run_jobs(app, "notify.watch")
    assert [p["title"] for p in hook.wait_for(1)] == ["SoulSpot: replication is lagging"]


def test_a_hanging_service_never_holds_the_caller(notify_app: Any, hook: WebhookReceiver) -> None:
    hook.stall.set()
    app = notify_app()
    with app.app_context():
        for n in range(3):
            api.audit("auth.sign_in", outcome="refused", reason=f"r{n}")  # returns at once
    hook.release.set()
    assert hook.wait_for(1)[0]["title"] == "SoulSpot: sign-in refused"


def test_a_stranger_refused_at_sign_in_notifies_the_owner(
    notify_app: Any, hook: WebhookReceiver
) -> None:
    import requests

    from support.oauth_provider import LocalOAuthProvider

    base = "http://127.0.0.1:8765"
    with LocalOAuthProvider(redirect_uris=[base + "/auth/callback"]) as provider:
        config = {
            "plugins": {
                "spotify": provider.client_config(),
                "security": {"rate_limit_auth": "1000/minute"},
            }
        }
        app = notify_app(config=config)

        def sign_in() -> int:
            client = app.test_client()
            start = client.get("/auth/login?next=/", base_url=base)
            answer = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
            return client.get(answer.headers["Location"][len(base) :], base_url=base).status_code

        assert sign_in() == 302  # alice: the owner
        provider.next_user = "bob"
        assert sign_in() == 403
    [post] = hook.wait_for(1)
    assert post["title"] == "SoulSpot: sign-in refused"
    assert "bob" in post["message"] and "not_owner" in post["message"]
