"""The one chunked reader that hashes: archiving a member, hashing a staged file and
extracting a member all read through :func:`copy_hashed`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

#: Read (and hashed) at a time: hashlib releases the GIL for blocks this size.
CHUNK = 1 << 20


@dataclass(frozen=True)
class Digest:
    """sha256 and size of some bytes."""

    sha256: str
    size: int


def copy_hashed(
    source: IO[bytes], sink: Callable[[bytes], Any] | None = None, limit: int | None = None
) -> Digest:
    """Read ``source`` to its end (or ``limit`` bytes) in :data:`CHUNK` blocks, hashing each
    and handing it to ``sink`` (when given). Returns the digest of what was read; the
    caller compares its size with what it expected."""
    digest = hashlib.sha256()
    size = 0
    while limit is None or size < limit:
        block = source.read(CHUNK if limit is None else min(CHUNK, limit - size))
        if not block:
            break
        digest.update(block)
        size += len(block)
        if sink is not None:
            sink(block)
    return Digest(digest.hexdigest(), size)


def digest_file(path: Path) -> Digest:
    """sha256 and size of the file ``path``."""
    with path.open("rb", buffering=0) as fh:
        return copy_hashed(fh)
