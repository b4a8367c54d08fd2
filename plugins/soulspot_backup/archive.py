"""The backup archive format: one tar file per backup, optionally encrypted as a whole.

Plain archive (``soulspot-<id>.tar``)::

    sources/<source>/<file>...    every file a backup source wrote, in a stable order
    manifest.json                 versions, trigger, created-at, sha256 + size of members
    manifest.sig                  last: HMAC-SHA256 of manifest.json's bytes (see signing.py)

Encrypted archive (``soulspot-<id>.tar.enc``): the same tar stream, sealed in chunks (see
:mod:`.sealing`).

Archives are written to a temporary name in the same folder, fsynced and renamed; listings
ignore temporary names, so a partial backup never looks like one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .digest import CHUNK, Digest, copy_hashed, digest_file
from .errors import BackupError, NeedsPassphrase, WrongPassphrase
from .sealing import MAGIC, EncryptingWriter, check_passphrase, is_encrypted

__all__ = [
    "CHUNK",
    "FORMAT_VERSION",
    "MAGIC",
    "MANIFEST_MAX",
    "MANIFEST_NAME",
    "SIGNATURE_NAME",
    "ArchiveName",
    "BackupError",
    "Digest",
    "NeedsPassphrase",
    "WrongPassphrase",
    "digest_file",
    "is_encrypted",
    "new_name",
    "parse_name",
    "staged_files",
    "valid_id",
    "write_archive",
]

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
#: A manifest lists a few members; one bigger than this is not a SoulSpot manifest.
MANIFEST_MAX = 1 << 20
TRIGGERS = ("scheduled", "manual", "pre-migration", "pre-restore")
_NAME_RE = re.compile(
    r"^soulspot-(?P<id>(?P<ts>\d{8}T\d{6}Z)-(?P<trigger>scheduled|manual|pre-migration|pre-restore)"
    r"-(?P<rand>[0-9a-f]{6}))\.(?P<ext>tar|tar\.enc)$"
)
_ID_RE = re.compile(r"^\d{8}T\d{6}Z-(scheduled|manual|pre-migration|pre-restore)-[0-9a-f]{6}$")
#: An archive being written goes to disk this many bytes at a time (see :class:`_PacedFile`).
WRITE_BACK_STEP = 8 << 20


@dataclass(frozen=True)
class ArchiveName:
    """What the file name of an archive tells (listing needs nothing else)."""

    id: str
    created_at: dt.datetime
    trigger: str
    encrypted: bool

    @property
    def filename(self) -> str:
        return f"soulspot-{self.id}.tar{'.enc' if self.encrypted else ''}"


def new_name(trigger: str, encrypted: bool, now: dt.datetime | None = None) -> ArchiveName:
    if trigger not in TRIGGERS:
        raise BackupError(f"unknown backup trigger {trigger!r} (expected {', '.join(TRIGGERS)})")
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    ident = f"{now:%Y%m%dT%H%M%SZ}-{trigger}-{secrets.token_hex(3)}"
    return ArchiveName(ident, now, trigger, encrypted)


def parse_name(filename: str) -> ArchiveName | None:
    """The archive name of ``filename``, or ``None`` for anything else (temporary files)."""
    match = _NAME_RE.match(filename)
    if match is None:
        return None
    created = dt.datetime.strptime(match["ts"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    return ArchiveName(match["id"], created, match["trigger"], match["ext"] == "tar.enc")


def valid_id(ident: str) -> bool:
    return bool(_ID_RE.match(ident))


# --- writing -------------------------------------------------------------------------------


def staged_files(staging: Path) -> Iterator[tuple[str, Path]]:
    """``(member name, path)`` for every file under ``staging`` in a stable order."""
    for path in sorted(p for p in staging.rglob("*") if p.is_file() and not p.is_symlink()):
        yield "sources/" + path.relative_to(staging).as_posix(), path


def _header(name: str, size: int, mtime: float) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(mtime)
    info.mode = 0o600
    return info.tobuf(format=tarfile.PAX_FORMAT)


def _pad(size: int) -> bytes:
    return b"\0" * (-size % tarfile.BLOCKSIZE)


def _copy_member(
    sink: Any,
    name: str,
    path: Path,
    progress: Callable[[str], None],
    known: Digest | None = None,
) -> dict[str, Any]:
    """Append one member (header, data, padding) to ``sink``, hashing the data (and checking
    it against ``known``, the digest taken of the staged file earlier)."""
    with path.open("rb", buffering=0) as fh:
        stat = os.fstat(fh.fileno())
        progress(f"archiving {name} ({_mb(stat.st_size)})")
        sink.write(_header(name, stat.st_size, stat.st_mtime))
        found = copy_hashed(fh, sink.write, limit=stat.st_size)
        if found.size != stat.st_size or fh.read(1):
            raise BackupError(f"{name} changed while it was archived")
        sink.write(_pad(found.size))
    if known is not None and known != found:
        raise BackupError(f"{name} changed while it was archived")
    return {"sha256": found.sha256, "size": found.size}


class _PacedFile:
    """The archive file, written to disk :data:`WRITE_BACK_STEP` bytes at a time.

    Left to the final fsync, a whole archive would go to disk in one burst, and writers'
    commits that sync (SQLite checkpoints) would wait behind it; an ``fdatasync`` after each
    step keeps what is queued for the disk small (see docs/performance.md)."""

    def __init__(self, raw: Any, step: int = WRITE_BACK_STEP) -> None:
        self.raw = raw
        self.step = step
        self.unsynced = 0

    def write(self, data: bytes) -> int:
        written: int = self.raw.write(data)
        self.unsynced += len(data)
        if self.unsynced >= self.step:
            os.fdatasync(self.raw.fileno())
            self.unsynced = 0
        return written


#: Signs the manifest's bytes; returns the ``manifest.sig`` member's content.
Signer = Callable[[bytes], bytes]


def _finish(sink: Any, manifest: dict[str, Any], signer: Signer | None) -> None:
    data = json.dumps(manifest, indent=2, sort_keys=True).encode()
    sink.write(_header(MANIFEST_NAME, len(data), time.time()) + data + _pad(len(data)))
    if signer is not None:  # the signature covers the manifest, which covers every member
        sig = signer(data)
        sink.write(_header(SIGNATURE_NAME, len(sig), time.time()) + sig + _pad(len(sig)))
    sink.write(b"\0" * (2 * tarfile.BLOCKSIZE))  # end of archive


def write_archive(
    target: Path,
    staging: Path,
    manifest: dict[str, Any],
    passphrase: str | None,
    progress: Callable[[str], None] = lambda _m: None,
    digests: Mapping[Path, Digest] | None = None,
    signer: Signer | None = None,
) -> dict[str, Any]:
    """Write the files under ``staging`` and ``manifest`` (completed with every member's
    sha256 and size) to ``target`` as a POSIX tar stream, fsynced, mode 0600. ``target``
    should be a temporary name; the caller renames it. Returns the completed manifest.

    The tar framing is written here (headers from :mod:`tarfile`) so each member is copied
    once, in 1 MiB blocks, hashed on the way. ``digests`` are :func:`digest_file` results
    taken of the staged files before (while something else read them): a copied member
    that no longer matches its digest is an error. ``signer`` adds ``manifest.sig`` after
    the manifest (see :mod:`.signing`)."""
    if passphrase:
        check_passphrase(passphrase)  # before anything is written
    files = list(staged_files(staging))
    known = dict(digests or {})
    members: dict[str, dict[str, Any]] = {}
    with target.open("xb", buffering=0) as raw:
        os.fchmod(raw.fileno(), 0o600)
        paced = _PacedFile(raw)
        sink: Any = EncryptingWriter(paced, passphrase) if passphrase else paced
        for name, path in files:
            members[name] = _copy_member(sink, name, path, progress, known.get(path))
        manifest = {**manifest, "members": members}
        _finish(sink, manifest, signer)
        if passphrase:
            sink.finish()
        os.fsync(raw.fileno())
    return manifest


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
