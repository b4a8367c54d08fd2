"""Backup signatures: every archive's manifest is signed (HMAC-SHA256) with a key kept in the
data directory, so a copy changed off the machine is refused.

The manifest lists every member's sha256 and size, so signing the manifest's exact bytes
covers the whole archive. The key ring is ``<data_dir>/keys/backup-signing.key`` (folder 0700,
file 0600): one hex key per line, the first signs, all verify. It is created on first use.
Encrypted backups carry the ring (a sensitive source), so restoring one on a new machine adds
the old machine's keys, and its plain archives verify there too.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from soulspot.types import BackupSource

SIGNATURE_NAME = "manifest.sig"
KEY_FILE = Path("keys") / "backup-signing.key"
SOURCE_NAME = "backup-signing-keys"
ALGORITHM = "HMAC-SHA256"
#: A signature member is a small JSON object; anything bigger is not one.
SIGNATURE_MAX = 4096

#: What :func:`check` finds.
SIGNED = "signed"  # signed by a key of this install
UNSIGNED = "unsigned"  # no signature (an archive from before signing, or stripped)
UNKNOWN_KEY = "unknown-key"  # signed, by a key this install does not have
ALTERED = "altered"  # signed by a key we have, and the manifest does not match


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"soulspot-backup-key-id" + key).hexdigest()[:16]


def read_keys(path: Path) -> list[bytes]:
    try:
        text = path.read_text("ascii")
    except (OSError, UnicodeDecodeError):
        return []
    keys: list[bytes] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        with contextlib.suppress(ValueError):
            key = bytes.fromhex(line)
            if len(key) >= 32:
                keys.append(key)
    return keys


def write_keys(path: Path, keys: Sequence[bytes]) -> None:
    """Write the ring atomically, 0600, in a 0700 folder."""
    from soulspot.api import atomic_write

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = (
        "# SoulSpot backup signing keys: the first signs, all verify. Keep a copy\n"
        "# apart from the backups (see docs/operations/disaster-recovery.md).\n"
    ) + "".join(key.hex() + "\n" for key in keys)
    atomic_write(path, text)


class KeyRing:
    """The signing keys of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / KEY_FILE

    def keys(self) -> list[bytes]:
        """Every key (created with a first one when there is none)."""
        keys = read_keys(self.path)
        if not keys:
            try:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it meanwhile, or it is damaged
                keys = read_keys(self.path)
                if not keys:
                    raise OSError(
                        f"the backup signing key file {self.path} holds no key: restore it from "
                        "your copy, or move it away to start a new ring"
                    ) from None
                return keys
            key = secrets.token_bytes(32)
            with os.fdopen(fd, "w") as fh:
                fh.write(key.hex() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            keys = [key]
        return keys

    def sign(self, manifest: bytes) -> bytes:
        key = self.keys()[0]
        mac = hmac.new(key, manifest, hashlib.sha256).hexdigest()
        return json.dumps({"alg": ALGORITHM, "key_id": key_id(key), "mac": mac}).encode()

    def merge(self, keys: Sequence[bytes]) -> None:
        """Add ``keys`` (from a restored backup) after the ones this install signs with."""
        have = self.keys()
        added = [k for k in keys if k not in have]
        if added:
            write_keys(self.path, [*have, *added])


def check(manifest: bytes, signature: bytes | None, keys: Sequence[bytes]) -> str:
    """:data:`SIGNED`, :data:`UNSIGNED`, :data:`UNKNOWN_KEY` or :data:`ALTERED`."""
    if signature is None:
        return UNSIGNED
    try:
        data: Mapping[str, Any] = json.loads(signature)
        wanted_id, mac = str(data["key_id"]), bytes.fromhex(str(data["mac"]))
        if data.get("alg") != ALGORITHM:
            return ALTERED
    except (ValueError, KeyError, TypeError):
        return ALTERED
    for key in keys:
        if hmac.compare_digest(key_id(key), wanted_id):
            good = hmac.new(key, manifest, hashlib.sha256).digest()
            return SIGNED if hmac.compare_digest(good, mac) else ALTERED
    return UNKNOWN_KEY


def key_source(ring: KeyRing) -> BackupSource:
    """The signing keys as a *sensitive* source: only encrypted backups carry them."""

    def snapshot(dest: Path) -> None:
        write_keys(dest / "backup-signing.key", ring.keys())

    def verify(src: Path) -> list[str]:
        if not read_keys(src / "backup-signing.key"):
            return ["backup-signing.key holds no key"]
        return []

    def restore(src: Path) -> None:
        ring.merge(read_keys(src / "backup-signing.key"))

    return BackupSource(SOURCE_NAME, snapshot, restore, verify, sensitive=True)


def unauthenticated(signature: str) -> str:
    """Why an archive whose signature :func:`check` found ``signature`` is not authentic,
    worded for the owner (it follows "the archive" or "backup <id>")."""
    if signature == UNKNOWN_KEY:
        return (
            "is signed with a key this install does not have (made on another machine? copy "
            "that machine's keys/backup-signing.key into this data directory's keys/ folder)"
        )
    return "is not signed (made before backups were signed, or its signature was removed)"
