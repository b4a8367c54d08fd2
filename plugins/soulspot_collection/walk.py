"""Find the audio files under the music folders: symlinks followed or not, loops detected.

Every folder is entered once, keyed by its device and inode, so a symlink pointing back up the
tree (or two links to one folder) costs nothing and is reported, not followed forever. A file
reached through two paths (a link to a file) is listed once, under the first path found.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Extensions per configured file type (``aiff`` also covers ``.aif``).
EXTENSIONS = {
    "mp3": (".mp3",),
    "flac": (".flac",),
    "m4a": (".m4a",),
    "ogg": (".ogg", ".oga"),
    "opus": (".opus",),
    "wav": (".wav",),
    "aiff": (".aiff", ".aif"),
}


@dataclass(frozen=True)
class FoundFile:
    path: str
    size: int
    mtime_ns: int


@dataclass
class WalkReport:
    """What the walk could not enter, and the loops and repeats it skipped."""

    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    loops: list[str] = field(default_factory=list)
    repeats: int = 0
    #: Folders not entered: their files are not known to be gone.
    skipped_dirs: list[str] = field(default_factory=list)


def suffixes(file_types: Iterable[str]) -> tuple[str, ...]:
    return tuple(ext for kind in file_types for ext in EXTENSIONS[kind])


def walk(
    roots: Iterable[Path], file_types: Iterable[str], follow_symlinks: bool, report: WalkReport
) -> Iterator[FoundFile]:
    """Yield every audio file under ``roots`` with its size and modification time."""
    wanted = suffixes(file_types)
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    stack: list[str] = []
    for root in roots:
        try:
            info = os.stat(root)
        except OSError as exc:
            report.problems.append((str(root), f"music folder not readable: {exc.strerror}"))
            report.skipped_dirs.append(os.path.abspath(root))
            continue
        if not os.path.isdir(root):
            report.problems.append((str(root), "music folder is not a folder"))
            report.skipped_dirs.append(os.path.abspath(root))
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen_dirs:
            report.loops.append(str(root))
            continue
        seen_dirs.add(key)
        top = os.path.abspath(root)
        stack.append(top)
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError as exc:
                report.problems.append((folder, f"folder not readable: {exc.strerror}"))
                report.skipped_dirs.append(folder)
                continue
            if folder == top and not entries:
                # the mount point of a disk that is not mounted looks like this: its files
                # are not taken as removed (nor playlists emptied) until it holds something
                report.problems.append(
                    (folder, "music folder is empty: is its disk or share mounted?")
                )
                report.skipped_dirs.append(folder)
                continue
            for entry in sorted(entries, key=lambda e: e.name, reverse=True):
                if not _utf8(entry.path):
                    # a name in another encoding (Latin-1 from an old disk): the database
                    # stores UTF-8, so the file is listed as a problem, not a crash of the scan
                    report.problems.append(
                        (printable(entry.path), "name is not valid UTF-8: rename it to scan it")
                    )
                    continue
                try:
                    is_link = entry.is_symlink()
                    if is_link and not follow_symlinks:
                        continue
                    if entry.is_dir(follow_symlinks=follow_symlinks):
                        st = entry.stat(follow_symlinks=True)
                        key = (st.st_dev, st.st_ino)
                        if key in seen_dirs:
                            report.loops.append(entry.path)
                            continue
                        seen_dirs.add(key)
                        stack.append(entry.path)
                        continue
                    if not entry.name.lower().endswith(wanted):
                        continue
                    if not entry.is_file(follow_symlinks=follow_symlinks):
                        continue
                    st = entry.stat(follow_symlinks=follow_symlinks)
                except OSError as exc:
                    # a dangling link or a file that vanished while we looked
                    report.problems.append((entry.path, f"not readable: {exc.strerror}"))
                    continue
                key = (st.st_dev, st.st_ino)
                if key in seen_files:  # a link to a file listed already (or a hard link)
                    report.repeats += 1
                    continue
                seen_files.add(key)
                yield FoundFile(entry.path, st.st_size, st.st_mtime_ns)


def _utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes of the name, kept as surrogates
        return False
    return True


def printable(path: str) -> str:
    """``path`` as text that can be stored and shown (undecodable bytes as ``\\xNN``)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
