"""Read what a file says about itself: tags (tinytag), a Spotify id, else its file name.

tinytag is MIT-licensed like SoulSpot and reads every type we scan; mutagen would be the
other choice but is GPL. A file tinytag cannot parse, or that holds neither audio nor tags,
is reported with the reason — the scan never stops for one file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

from tinytag import TinyTag, TinyTagException

#: A Spotify track id in a URL, URI or custom field (22 base-62 characters).
SPOTIFY_TRACK = re.compile(
    r"(?:open\.spotify\.com/(?:intl-[a-z-]+/)?track/|spotify:track:)([A-Za-z0-9]{22})"
)
_BARE_ID = re.compile(r"^[A-Za-z0-9]{22}$")
_ID_FIELDS = ("spotify_id", "spotify_track_id", "spotify")
_TRACK_NUMBER = re.compile(r"^\s*(?:\d{1,2}[-.]?)?\d{1,3}(?:\s*[-._)]\s*|\s+)")


class UnreadableFile(Exception):
    """The file cannot be read as audio; ``str(exc)`` is the reason shown to the owner."""


@dataclass(frozen=True)
class FileInfo:
    title: str | None
    artist: str | None
    album: str | None
    duration: float | None
    spotify_id: str | None
    source: str  # "tags" | "filename" | "none"


def spotify_id_in(values: list[str], fields: dict[str, list[str]]) -> str | None:
    """The first Spotify track id in free text ``values`` or in id-named custom ``fields``."""
    for value in values:
        found = SPOTIFY_TRACK.search(value)
        if found:
            return found.group(1)
    for name in _ID_FIELDS:
        for value in fields.get(name, []):
            found = SPOTIFY_TRACK.search(value)
            if found:
                return found.group(1)
            if _BARE_ID.match(value.strip()):
                return value.strip()
    return None


def from_filename(path: str) -> tuple[str | None, str | None, str | None]:
    """``Artist - Title.ext``, or ``Artist/Album/01 Title.ext``: (artist, title, album)."""
    pure = PurePath(path)
    stem = _TRACK_NUMBER.sub("", pure.stem, count=1).strip() or pure.stem
    parts = [p.strip() for p in stem.split(" - ") if p.strip()]
    album = pure.parent.name or None
    if len(parts) >= 2:
        return parts[0], " - ".join(parts[1:]), album
    artist = pure.parent.parent.name or None
    return artist, stem or None, album


def read(path: str) -> FileInfo:
    """Tags and duration of ``path``; raises :class:`UnreadableFile` with the reason."""
    try:
        tag = TinyTag.get(path, image=False)
    except TinyTagException as exc:
        raise UnreadableFile(f"not a readable audio file: {exc}") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot open: {exc.strerror or exc}") from None
    except Exception as exc:  # a corrupt file can break the parser anywhere
        raise UnreadableFile(f"corrupt audio file ({type(exc).__name__}: {exc})") from None
    duration = tag.duration if tag.duration and tag.duration > 0 else None
    other = {key: [str(v) for v in values] for key, values in tag.other.items()}
    texts = [tag.comment or ""] + [v for values in other.values() for v in values]
    spotify_id = spotify_id_in(texts, other)
    title, artist, album = _clean(tag.title), _clean(tag.artist), _clean(tag.album)
    if duration is None and title is None and artist is None and spotify_id is None:
        raise UnreadableFile("no audio stream and no tags found")
    if title is not None:
        return FileInfo(
            title, artist or _clean(tag.albumartist), album, duration, spotify_id, "tags"
        )
    guess_artist, guess_title, guess_album = from_filename(path)
    source = "filename" if guess_title else "none"
    return FileInfo(
        guess_title, artist or guess_artist, album or guess_album, duration, spotify_id, source
    )


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.replace("\x00", " ").strip()
    return value or None
