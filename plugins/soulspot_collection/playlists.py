"""Write one M3U8 playlist per Spotify playlist (and liked songs) for local players.

Extended M3U, UTF-8, ``#EXTINF:<seconds>,<artists> - <title>`` before each path; paths are
relative to the folder the playlists are written to (so the folder can be mounted elsewhere,
as media servers in containers do). Only matched tracks whose file is present are listed, in
the playlist's order. Each file is written to a temporary name, synced and renamed into
place; playlists this export wrote before and no longer produces are removed (a small
manifest in the folder remembers which ones are ours — other files are never touched).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from soulspot.api import atomic_write
from soulspot.vault import LibraryVault

from .models import LocalFile
from .overview import Standing, entries, lists

MANIFEST = ".soulspot-playlists.json"
_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]+')


@dataclass(frozen=True)
class Written:
    name: str
    path: Path
    tracks: int
    skipped: int


def file_name(name: str, used: set[str]) -> str:
    base = _UNSAFE.sub("_", name).strip(" .") or "playlist"
    base = base[:120]
    candidate, n = f"{base}.m3u8", 2
    while candidate.casefold() in used:
        candidate, n = f"{base} ({n}).m3u8", n + 1
    used.add(candidate.casefold())
    return candidate


#: Line breaks and other control characters: in a name they would end an M3U8 line early.
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def one_line(text: str) -> str:
    """``text`` fit for one M3U8 line (a title with ``\r`` in it, a name with a newline)."""
    return _BREAKS.sub(" ", text)


def export(vault: LibraryVault, standing: Standing, out_dir: Path) -> list[Written]:
    """Write every playlist into ``out_dir`` (created); returns what was written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # as the scan stored the files' paths (abspath, links not followed): relative paths
    # between the two then hold wherever the folder that holds both is mounted
    base = os.path.abspath(out_dir)
    paths: dict[int, tuple[str, float | None]] = {}
    query = LocalFile.select(LocalFile.id, LocalFile.path, LocalFile.duration).where(
        LocalFile.present == True  # noqa: E712
    )
    for row in query:
        paths[row.id] = (row.path, row.duration)
    used: set[str] = set()
    written: list[Written] = []
    for list_id, name in lists(vault):
        lines = ["#EXTM3U", f"#PLAYLIST:{one_line(name)}"]
        count = skipped = 0
        for item in entries(vault, list_id):
            status, file_id, _score, _method = standing.get(
                item.track.id, ("missing", None, None, None)
            )
            if status != "matched" or file_id not in paths:
                skipped += 1
                continue
            path, duration = paths[file_id]
            seconds = (
                round(duration)
                if duration
                else (round(item.track.duration_ms / 1000) if item.track.duration_ms else -1)
            )
            label = one_line(f"{', '.join(item.track.artists)} - {item.track.name}")
            lines.append(f"#EXTINF:{seconds},{label}")
            relative = os.path.relpath(path, base)
            # a line that starts with '#' is a comment to players: "./#1 Hit.flac" is not
            lines.append(f"./{relative}" if relative.startswith("#") else relative)
            count += 1
        target = out_dir / file_name(name, used)
        atomic_write(target, "\n".join(lines) + "\n", mode=0o644)  # media players read it
        written.append(Written(name, target, count, skipped))
    _forget_stale(out_dir, {w.path.name for w in written})
    return written


def _forget_stale(out_dir: Path, current: set[str]) -> None:
    manifest = out_dir / MANIFEST
    try:
        before = set(json.loads(manifest.read_text(encoding="utf-8")).get("files", []))
    except (OSError, ValueError, AttributeError):
        before = set()
    for name in before - current:
        if name.endswith(".m3u8") and "/" not in name and os.sep not in name:
            (out_dir / name).unlink(missing_ok=True)
    atomic_write(manifest, json.dumps({"files": sorted(current)}, indent=1), mode=0o644)
