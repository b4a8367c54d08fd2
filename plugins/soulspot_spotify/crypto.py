"""Token encryption at rest: Fernet keys combined with MultiFernet.

Keys come from ``[plugins.spotify] token_keys`` (newest first) or, when that is empty, from
``<data_dir>/keys/spotify_token_keys`` (one key a line, newest first, 0600), generated on
first use. The first key encrypts; every key decrypts. A running server notices when
``soulspot secrets rotate`` rewrites the file (mtime) and reloads it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_FILE_NAME = "spotify_token_keys"

__all__ = ["KEY_FILE_NAME", "InvalidToken", "KeyRing", "generate_key", "write_key_file"]


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def write_key_file(path: Path, keys: Sequence[str]) -> None:
    """Atomically replace ``path`` (0600, folder 0700) with ``keys``, one a line."""
    from soulspot.api import atomic_write

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write(path, "".join(f"{k}\n" for k in keys))


def read_key_file(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


class KeyRing:
    """The token keys of one app."""

    def __init__(self, data_dir: Path, configured: Sequence[str] = ()) -> None:
        self.path = data_dir / "keys" / KEY_FILE_NAME
        self.configured = [k for k in configured if k]
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._keys: list[str] = []
        self._multi: MultiFernet | None = None

    @property
    def from_config(self) -> bool:
        return bool(self.configured)

    def keys(self) -> list[str]:
        """The keys, newest first (loading or creating the key file when needed)."""
        with self._lock:
            self._load()
            return list(self._keys)

    def fernet(self) -> MultiFernet:
        with self._lock:
            self._load()
            if self._multi is None:  # pragma: no cover - _load always sets it
                raise RuntimeError("no token key loaded")
            return self._multi

    def encrypt(self, plain: str) -> str:
        return self.fernet().encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Raises :class:`InvalidToken` when no key fits (a backup from before a rotation)."""
        return self.fernet().decrypt(token.encode("ascii")).decode("utf-8")

    def reload(self) -> None:
        with self._lock:
            self._stamp = None
            self._load()

    def _load(self) -> None:
        if self.configured:
            if self._multi is None:
                self._keys = list(self.configured)
                self._multi = _multi(self._keys)
            return
        try:
            st = self.path.stat()
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):
                _create_key_file(self.path)
            st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp != self._stamp or self._multi is None:
            keys = read_key_file(self.path)
            if not keys:
                raise RuntimeError(f"the token key file {self.path} is empty")
            self._keys = keys
            self._multi = _multi(keys)
            self._stamp = stamp


def _multi(keys: Sequence[str]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode("ascii")) for k in keys])


def _create_key_file(path: Path) -> None:
    """Create the key file exclusively (0600): two processes starting at once keep one key."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(generate_key() + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def backup_source(ring: KeyRing) -> Any:
    """The key file as a *sensitive* backup source: only passphrase-encrypted backups hold
    it, so a plain backup never carries both the tokens and the key that opens them."""
    from soulspot.types import BackupSource

    def snapshot(dest: Path) -> None:
        ring.keys()  # make sure the file exists
        write_key_file(dest / KEY_FILE_NAME, read_key_file(ring.path))

    def verify(src: Path) -> list[str]:
        path = src / KEY_FILE_NAME
        if not path.exists():
            return [f"{KEY_FILE_NAME} is missing"]
        keys = read_key_file(path)
        if not keys:
            return [f"{KEY_FILE_NAME} holds no key"]
        try:
            _multi(keys)
        except (ValueError, TypeError):
            return [f"{KEY_FILE_NAME} holds something that is not a Fernet key"]
        return []

    def restore(src: Path) -> None:
        write_key_file(ring.path, read_key_file(src / KEY_FILE_NAME))
        ring.reload()

    return BackupSource(
        name="spotify-token-keys",
        snapshot=snapshot,
        restore=restore,
        verify=verify,
        sensitive=True,
    )
