"""Writing a file so that a crash leaves either the old content or the new, never a mix.

Every plugin that replaces a file (key rings, markers, state, playlists, the config file on a
restore) uses :func:`atomic_write`; plugins reach it as ``soulspot.api.atomic_write``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

#: Temporary files start with this; a crash may leave one, never under the final name.
TEMP_PREFIX = ".tmp-"


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename, creation or removal in folder ``path`` survive a power cut. A
    filesystem that cannot sync a folder (some network mounts) is left as it is."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` (``str`` is written as UTF-8) atomically and durably:
    write a temporary file in the same folder, fsync it, rename it over ``path``, fsync the
    folder. ``mode`` is the file's permission bits whatever the umask (default 0600: most of
    what SoulSpot writes is private). A failure before the rename removes the temporary
    file and leaves ``path`` as it was; a crash leaves at most a ``.tmp-*`` file beside it."""
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)
