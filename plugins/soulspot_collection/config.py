"""The ``[plugins.collection]`` section."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FileType = Literal["mp3", "flac", "m4a", "ogg", "opus", "wav", "aiff"]
ALL_TYPES: tuple[FileType, ...] = ("mp3", "flac", "m4a", "ogg", "opus", "wav", "aiff")


def _check_schedule(value: str) -> str:
    from .schedule import cron_args

    if value != "off":
        cron_args(value)  # raises ValueError with the reason
    return value


class CollectionConfig(BaseModel):
    """Which folders hold the music, which files count, when to scan and export."""

    model_config = ConfigDict(extra="forbid")

    music_dirs: list[Path] = Field(
        default_factory=list,
        description=(
            "Folders holding your music files, scanned recursively, e.g. "
            "['/home/me/Music']. Empty: nothing is scanned."
        ),
    )
    scan_schedule: str = Field(
        "30 3 * * *",
        description=(
            "Five-field cron expression (UTC) for the scheduled rescan, or 'off'. A rescan "
            "reads tags only of files whose size or modification time changed."
        ),
    )
    follow_symlinks: bool = Field(
        True,
        description=(
            "Follow symbolic links to folders and files. Loops are detected and each folder "
            "is scanned once."
        ),
    )
    file_types: list[FileType] = Field(
        default_factory=lambda: list(ALL_TYPES),
        min_length=1,
        description=(
            "File types scanned, by extension: mp3, flac, m4a (AAC or ALAC), ogg, opus, "
            "wav, aiff (.aif too)."
        ),
    )
    playlist_dir: Path | None = Field(
        None,
        description=(
            "Folder the scheduled playlist export writes one M3U8 file per playlist (and "
            "liked songs) into, for Navidrome, Jellyfin or any player. Unset: no scheduled "
            "export."
        ),
    )
    playlist_schedule: str = Field(
        "0 4 * * *",
        description=(
            "Five-field cron expression (UTC) for the playlist export into playlist_dir, or 'off'."
        ),
    )
    max_scan_age_hours: float = Field(
        48.0,
        gt=0,
        description="The health check warns when the last finished scan is older than this.",
    )

    @field_validator("scan_schedule", "playlist_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return _check_schedule(value)

    @field_validator("music_dirs")
    @classmethod
    def _absolute(cls, value: list[Path]) -> list[Path]:
        return [p.expanduser() for p in value]
