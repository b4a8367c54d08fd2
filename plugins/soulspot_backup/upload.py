"""An archive uploaded through the Backups page (one made on another machine, say), staged
on disk for the service's own restore.

Bounded twice: the request body by ``[plugins.backup] upload_max_bytes`` (the view's
``soulspot.api.body_limit``, so Werkzeug refuses a larger body while it reads it), and the
copy here, which counts what it writes. Werkzeug streams the file part to a temporary file
while parsing the form; this module copies it in chunks into a private folder inside the
backup folder (same file system as the restore's work folder, whose free space the restore
checks) and removes that folder whatever happens. Everything else — signature, checksums,
each source's check, newer schemas, the staged swap — is the restore's, exactly as for an
archive in the backup folder.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from soulspot.errors import Problem

from .archive import parse_name

PREFIX = ".upload-"
CHUNK = 1 << 20
#: A staging folder older than this was left by a killed process.
STALE_SECONDS = 24 * 3600


def safe_name(filename: str | None) -> str:
    """The name the staged copy gets: the uploaded name when it is an archive name (the
    restore then reports its id), else a neutral one (its kind is read from its bytes)."""
    base = Path(filename or "").name
    if parse_name(base) is not None:
        return base
    return "uploaded.tar"


def _clean_stale(folder: Path) -> None:
    now = time.time()
    for path in folder.glob(PREFIX + "*"):
        try:
            if path.is_dir() and now - path.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


@contextmanager
def staged(folder: Path, stream: IO[bytes], filename: str | None, cap: int) -> Iterator[Path]:
    """Copy ``stream`` into a private folder in ``folder``; yields the copy's path.

    :raises Problem: 413 past ``cap`` bytes, 422 for an empty upload; nothing is kept.
    """
    _clean_stale(folder)
    work = folder / f"{PREFIX}{secrets.token_hex(8)}"
    work.mkdir(mode=0o700)
    try:
        target = work / safe_name(filename)
        written = 0
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                written += len(chunk)
                if written > cap:
                    raise Problem(
                        413,
                        "Archive too large",
                        f"The uploaded archive is larger than {cap} bytes, the most this "
                        "SoulSpot accepts ([plugins.backup] upload_max_bytes); nothing was "
                        "changed.",
                    )
                out.write(chunk)
        if written == 0:
            raise Problem(
                422,
                "No archive",
                "Choose a backup archive file (soulspot-….tar or .tar.enc) to upload; nothing "
                "was changed.",
            )
        yield target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def display_name(filename: str | None) -> str:
    """The uploaded file's own name, for messages (control characters dropped)."""
    return re.sub(r"[\x00-\x1f\x7f]", "", Path(filename or "archive").name)[:200] or "archive"


__all__ = ["display_name", "safe_name", "staged"]
