"""The ``[plugins.notify]`` section."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

#: Every event the plugin can send, in the order the docs list them.
EventName = Literal[
    "backup_failed",
    "replication_lagging",
    "library_sync_failed",
    "library_sync_paused",
    "reauth_due",
    "sign_in_refused",
    "deploy_failed",
]
ALL_EVENTS: tuple[EventName, ...] = EventName.__args__  # type: ignore[attr-defined]


class NotifyConfig(BaseModel):
    """Where notifications go and which events send one."""

    model_config = ConfigDict(extra="forbid")

    urls: list[SecretStr] = Field(
        default_factory=list,
        description=(
            "Apprise URLs, one per service (mailtos://, ntfy://, gotify://, tgram://, "
            "discord://, json:// for a webhook, ...; see the Apprise wiki). Secrets: they hold "
            "tokens. Prefer SOULSPOT__NOTIFY__URLS_FILE (a file, one URL per line). Empty: "
            "nothing is sent."
        ),
    )
    events: list[EventName] = Field(
        default_factory=lambda: list(ALL_EVENTS),
        description="Which events send a notification (default: all of them).",
    )
    reauth_warning_days: int = Field(
        14,
        ge=1,
        le=180,
        description=(
            "Send 'reauth_due' when Spotify's refresh token of the owner expires within this "
            "many days (Spotify ends sign-ins 6 months after the first consent). The Spotify "
            "plugin reports accounts from [plugins.spotify] reauthorise_warning_days (14) on, "
            "so a larger value here needs that one raised too."
        ),
    )
    check_every_minutes: int = Field(
        15,
        ge=1,
        le=24 * 60,
        description=(
            "How often `soulspot serve` looks at health (replication lag, the Spotify "
            "sign-in running out) for conditions to report."
        ),
    )
    repeat_after_minutes: int = Field(
        360,
        ge=0,
        le=7 * 24 * 60,
        description=(
            "The same event is sent again at most this often while it goes on (0: every "
            "time). A condition that clears and comes back is sent at once."
        ),
    )
    timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="How long one service may take to accept a message."
    )

    @field_validator("urls", mode="before")
    @classmethod
    def _one_per_line(cls, value: object) -> object:
        # A secret file holds one URL per line (SOULSPOT__NOTIFY__URLS_FILE).
        if isinstance(value, str):
            return [line.strip() for line in value.splitlines() if line.strip()]
        return value

    @field_validator("urls")
    @classmethod
    def _apprise_urls(cls, value: list[SecretStr]) -> list[SecretStr]:
        import logging

        import apprise

        # Apprise logs an unparseable URL whole; this runs before the log redaction knows
        # the URLs are secrets, so its lines are held back while it checks them.
        quiet = _DropAll()
        logger = logging.getLogger("apprise")
        logger.addFilter(quiet)
        try:
            for index, url in enumerate(value):
                if not apprise.Apprise().add(url.get_secret_value()):
                    raise ValueError(
                        f"urls[{index}] is not a URL Apprise can send to (scheme://...; the "
                        "value is a secret and not shown)"
                    )
        finally:
            logger.removeFilter(quiet)
        return value


class _DropAll:
    """A logging filter (stdlib protocol: ``filter(record) -> bool``) that drops every line."""

    def filter(self, record: object) -> bool:
        return False
