"""The ``[plugins.backup]`` section."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class BackupConfig(BaseModel):
    """Where backups go, when they are taken and how many are kept."""

    model_config = ConfigDict(extra="forbid")

    dir: Path | None = Field(
        None,
        description="Folder holding the backup archives. Unset: <data_dir>/backups (0700).",
    )
    schedule: Literal["interval", "cron", "off"] = Field(
        "interval",
        description=(
            "How scheduled backups are timed: 'interval' (every interval_hours), 'cron' "
            "(the cron expression below) or 'off' (only manual and pre-migration backups)."
        ),
    )
    interval_hours: float = Field(
        24.0,
        gt=0,
        le=24 * 31,
        description="Hours between scheduled backups (schedule = 'interval').",
    )
    cron: str = Field(
        "0 3 * * *",
        description=(
            "Five-field cron expression for scheduled backups (schedule = 'cron'), in "
            "`timezone`, meaning what cron means (day of week 0 or 7 = Sunday, names sun-sat), "
            "e.g. '0 3 * * *' for 03:00 every day, '0 3 * * 1-5' for weekdays."
        ),
    )
    timezone: str = Field(
        "",
        description=(
            "IANA time zone of the cron expression (e.g. 'Europe/Berlin', 'UTC'). Empty: this "
            "machine's local zone."
        ),
    )
    misfire_grace_hours: float = Field(
        12.0,
        gt=0,
        description=(
            "A scheduled backup missed while the machine slept still runs when it wakes, if "
            "no later than this many hours."
        ),
    )
    keep_last: int = Field(
        7, ge=1, description="Retention: always keep this many newest scheduled backups."
    )
    keep_daily: int = Field(
        7, ge=0, description="Retention: also keep the newest backup of each of this many days."
    )
    keep_weekly: int = Field(
        4, ge=0, description="Retention: also keep the newest backup of each of this many weeks."
    )
    keep_monthly: int = Field(
        6,
        ge=0,
        description="Retention: also keep the newest backup of each of this many months.",
    )
    passphrase: SecretStr | None = Field(
        None,
        description=(
            "Set to encrypt scheduled backups with a key derived from this passphrase (scrypt); "
            "only encrypted backups include keys (the token key). Better set it through "
            "SOULSPOT__BACKUP__PASSPHRASE_FILE. Unset: backups are plain and hold no keys."
        ),
    )

    upload_max_bytes: int = Field(
        2_147_483_648,
        ge=1_048_576,
        description=(
            "Largest archive the Backups page accepts as an upload to restore (bytes); a "
            "larger upload is refused with 413 before it is stored."
        ),
    )

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        from soulspot.cron import CronError, trigger_args

        try:
            trigger_args(value, "UTC")
        except CronError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        from soulspot.cron import CronError, zone

        try:
            zone(value)
        except CronError as exc:
            raise ValueError(str(exc)) from None
        return value
