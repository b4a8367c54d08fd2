"""The ``[plugins.library]`` config section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class LibraryConfig(BaseModel):
    """The Spotify library vault: when it syncs and how patiently it waits for Spotify."""

    model_config = ConfigDict(extra="forbid")

    sync_schedule: str = Field(
        "0 */6 * * *",
        description=(
            "Five-field cron expression (UTC) of the scheduled sync; default every 6 hours. "
            "'off': only 'soulspot library sync' and the Sync now button."
        ),
    )
    full_sync_days: float = Field(
        7,
        gt=0,
        description=(
            "Re-read liked songs, albums and artists in full at least this often (an un-like "
            "and a like can leave the count unchanged); other syncs read only what changed."
        ),
    )
    max_retry_wait_seconds: float = Field(
        300,
        ge=0,
        description=(
            "Wait at most this long in total for Spotify's rate limit (429 Retry-After) in "
            "one run; past it the run stops as 'paused by Spotify until ...' and the next "
            "run resumes."
        ),
    )
    server_error_retries: int = Field(
        4, ge=0, le=10, description="Retries of a call Spotify answered with a 5xx."
    )
    retry_backoff_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description=(
            "First wait before retrying a 5xx (doubling each time), and the wait after a 429 "
            "without Retry-After."
        ),
    )

    @field_validator("sync_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if value.strip().lower() == "off":
            return "off"
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a five-field cron expression or 'off': {exc}") from None
        return value
