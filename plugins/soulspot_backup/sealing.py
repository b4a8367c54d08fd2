"""Encrypted archives (``soulspot-<id>.tar.enc``): ``MAGIC``, a 4-byte header length, a JSON
header (scrypt parameters, salt, nonce prefix, a key-check value), then the tar stream cut
into chunks sealed with AES-256-GCM (STREAM construction: the nonce carries the chunk counter
and a last-chunk flag, the header is associated data), so a reordered, truncated or altered
archive fails authentication, and a wrong passphrase is told apart from damage by the key
check."""

from __future__ import annotations

import base64
import functools
import io
import json
import secrets
import struct
from pathlib import Path
from typing import IO, Any, Protocol

from .errors import BackupError, NeedsPassphrase, WrongPassphrase

FORMAT_VERSION = 1
MAGIC = b"SOULSPOT-BACKUP-ENC1\n"
#: Plain bytes per sealed chunk.
CHUNK = 1 << 20
_KEY_CHECK = b"soulspot-backup-key-check"


class Sink(Protocol):
    """Where sealed bytes go (a file, or one that paces its writes to disk)."""

    def write(self, data: bytes, /) -> int: ...


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


#: scrypt cost of new archives: n = 2**17, r = 8 (128 MiB of memory per guess). The header
#: records the cost, so archives made with another (2**15 before issue 15) still open.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
#: Shortest passphrase a new encrypted archive accepts (older archives open with theirs).
MIN_PASSPHRASE = 12


def check_passphrase(passphrase: str) -> None:
    """Refuse a passphrase too short for a new encrypted backup."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(
            f"the backup passphrase has {len(passphrase)} characters; use at least "
            f"{MIN_PASSPHRASE} (a few words: it is all that protects the keys in the backup)"
        )


@functools.lru_cache(maxsize=4)
def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    """The archive key. Cached per salt: taking a backup derives it to write and again to
    verify, and each derivation costs a third of a second of CPU and 128 MiB on purpose."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


#: Random bytes that start every chunk's nonce (4 of counter and 1 of "last" follow: 12).
NONCE_PREFIX_BYTES = 7


def _nonce(prefix: bytes, counter: int, final: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if final else 0)


class EncryptingWriter(io.RawIOBase):
    """A write-only stream that seals what it gets in CHUNK-sized AES-GCM chunks."""

    def __init__(self, raw: Sink, passphrase: str) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.raw = raw
        check_passphrase(passphrase)
        salt = secrets.token_bytes(16)
        self.prefix = secrets.token_bytes(NONCE_PREFIX_BYTES)
        n, r, p = SCRYPT_N, SCRYPT_R, SCRYPT_P
        key = _derive(passphrase, salt, n, r, p)
        self.aead = AESGCM(key)
        header: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "cipher": "AES-256-GCM",
            "kdf": {"name": "scrypt", "n": n, "r": r, "p": p, "salt": _b64(salt)},
            "nonce_prefix": _b64(self.prefix),
            "chunk": CHUNK,
        }
        check_nonce = _nonce(self.prefix, 0xFFFFFFFF, True)
        header["key_check"] = _b64(self.aead.encrypt(check_nonce, _KEY_CHECK, b"key-check"))
        self.header = json.dumps(header, sort_keys=True).encode()
        raw.write(MAGIC + struct.pack(">I", len(self.header)) + self.header)
        self.buf = bytearray()
        self.counter = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.buf += data
        while len(self.buf) > CHUNK:
            self._emit(bytes(self.buf[:CHUNK]), final=False)
            del self.buf[:CHUNK]
        return len(data)

    def _emit(self, plain: bytes, final: bool) -> None:
        if self.counter >= 0xFFFFFFFF:
            raise BackupError("archive too large to encrypt (over 4 PiB)")
        sealed = self.aead.encrypt(_nonce(self.prefix, self.counter, final), plain, self.header)
        self.raw.write(struct.pack(">I", len(sealed)) + sealed)
        self.counter += 1

    def finish(self) -> None:
        self._emit(bytes(self.buf), final=True)
        self.buf.clear()


class DecryptingReader(io.RawIOBase):
    """A read-only stream opening what :class:`EncryptingWriter` sealed."""

    def __init__(self, raw: IO[bytes], passphrase: str | None) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.raw = raw
        if raw.read(len(MAGIC)) != MAGIC:
            raise BackupError("not an encrypted SoulSpot backup")
        length = self._exact(4, "header length")
        (size,) = struct.unpack(">I", length)
        if size > 65536:
            raise BackupError("the archive header is damaged")
        self.header = self._exact(size, "header")
        try:
            info = json.loads(self.header)
            kdf = info["kdf"]
            self.prefix = base64.b64decode(info["nonce_prefix"])
            salt = base64.b64decode(kdf["salt"])
            check = base64.b64decode(info["key_check"])
            n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"the archive header is damaged ({exc})") from None
        if n > 2**20 or r > 32 or p > 16:
            raise BackupError("the archive header asks for unreasonable key-derivation costs")
        # what scrypt and AES-GCM accept (they raise ValueError otherwise, a traceback here)
        if n < 2 or n & (n - 1) or r < 1 or p < 1 or len(self.prefix) != NONCE_PREFIX_BYTES:
            raise BackupError("the archive header is damaged (its key-derivation settings)")
        if not passphrase:
            raise NeedsPassphrase(
                "this backup is encrypted: give its passphrase (--passphrase or "
                "SOULSPOT_BACKUP_PASSPHRASE)"
            )
        from cryptography.exceptions import InvalidTag

        self.aead = AESGCM(_derive(passphrase, salt, n, r, p))
        try:
            self.aead.decrypt(_nonce(self.prefix, 0xFFFFFFFF, True), check, b"key-check")
        except InvalidTag:
            raise WrongPassphrase(
                "wrong passphrase: it does not open this encrypted backup (nothing was changed)"
            ) from None
        self.counter = 0
        self.buf = b""
        self.pos = 0
        self.done = False

    def _exact(self, size: int, what: str) -> bytes:
        data = self.raw.read(size)
        if len(data) != size:
            raise BackupError(f"the archive is truncated (in the {what})")
        return data

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> None:
        from cryptography.exceptions import InvalidTag

        head = self.raw.read(4)
        if len(head) < 4:
            raise BackupError(
                f"the archive is truncated (ends after {self.counter} chunk(s) without its "
                "last one)"
            )
        (size,) = struct.unpack(">I", head)
        if size > CHUNK + 16:
            raise BackupError(f"the archive is damaged (chunk {self.counter} has a bad length)")
        sealed = self._exact(size, f"chunk {self.counter}")
        for final in (False, True):
            try:
                plain = self.aead.decrypt(
                    _nonce(self.prefix, self.counter, final), sealed, self.header
                )
            except InvalidTag:
                continue
            self.counter += 1
            self.buf, self.pos, self.done = plain, 0, final
            if final and self.raw.read(1):
                raise BackupError("the archive is damaged (data after its last chunk)")
            return
        raise BackupError(f"the archive is damaged (chunk {self.counter} fails authentication)")

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while size < 0 or len(out) < size:
            if self.pos >= len(self.buf):
                if self.done:
                    break
                self._next_chunk()
                continue
            take = (
                len(self.buf) - self.pos
                if size < 0
                else min(size - len(out), len(self.buf) - self.pos)
            )
            out += self.buf[self.pos : self.pos + take]
            self.pos += take
        return bytes(out)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        """Read to the end, so truncation and trailing garbage are noticed."""
        while not self.done:
            self._next_chunk()
        self.pos = len(self.buf)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
