"""The backup archive format: one tar file per backup, optionally encrypted as a whole.

Plain archive (``soulspot-<id>.tar``)::

    sources/<source>/<file>...    every file a backup source wrote, in a stable order
    manifest.json                 versions, trigger, created-at, sha256 + size of members
    manifest.sig                  last: HMAC-SHA256 of manifest.json's bytes (see signing.py)

Encrypted archive (``soulspot-<id>.tar.enc``): ``MAGIC``, a 4-byte header length, a JSON
header (scrypt parameters, salt, nonce prefix, a key-check value), then the same tar stream cut
into chunks sealed with AES-256-GCM (STREAM construction: the nonce carries the chunk counter
and a last-chunk flag, the header is associated data), so a reordered, truncated or altered
archive fails authentication, and a wrong passphrase is told apart from damage by the key
check.

Archives are written to a temporary name in the same folder, fsynced and renamed; listings
ignore temporary names, so a partial backup never looks like one.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import io
import json
import os
import re
import secrets
import struct
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
#: A manifest lists a few members; one bigger than this is not a SoulSpot manifest.
MANIFEST_MAX = 1 << 20
MAGIC = b"SOULSPOT-BACKUP-ENC1\n"
CHUNK = 1 << 20
_KEY_CHECK = b"soulspot-backup-key-check"
TRIGGERS = ("scheduled", "manual", "pre-migration", "pre-restore")
_NAME_RE = re.compile(
    r"^soulspot-(?P<id>(?P<ts>\d{8}T\d{6}Z)-(?P<trigger>scheduled|manual|pre-migration|pre-restore)"
    r"-(?P<rand>[0-9a-f]{6}))\.(?P<ext>tar|tar\.enc)$"
)
_ID_RE = re.compile(r"^\d{8}T\d{6}Z-(scheduled|manual|pre-migration|pre-restore)-[0-9a-f]{6}$")


class BackupError(Exception):
    """A backup problem, worded for the owner."""


class WrongPassphrase(BackupError):
    """The archive is encrypted and the passphrase does not open it."""


class NeedsPassphrase(BackupError):
    """The archive is encrypted and no passphrase was given."""


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


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


# --- encryption ----------------------------------------------------------------------------


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


def _nonce(prefix: bytes, counter: int, final: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if final else 0)


class _EncryptingWriter(io.RawIOBase):
    """A write-only stream that seals what it gets in CHUNK-sized AES-GCM chunks."""

    def __init__(self, raw: IO[bytes], passphrase: str) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.raw = raw
        check_passphrase(passphrase)
        salt = secrets.token_bytes(16)
        self.prefix = secrets.token_bytes(7)
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


class _DecryptingReader(io.RawIOBase):
    """A read-only stream opening what :class:`_EncryptingWriter` sealed."""

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
        digest = hashlib.sha256()
        size = 0
        while size < stat.st_size:
            block = fh.read(min(CHUNK, stat.st_size - size))
            if not block:
                break
            digest.update(block)
            sink.write(block)
            size += len(block)
        if size != stat.st_size or fh.read(1):
            raise BackupError(f"{name} changed while it was archived")
        sink.write(_pad(size))
    found = Digest(digest.hexdigest(), size)
    if known is not None and known != found:
        raise BackupError(f"{name} changed while it was archived")
    return {"sha256": found.sha256, "size": size}


@dataclass(frozen=True)
class Digest:
    """sha256 and size of a staged file."""

    sha256: str
    size: int


def digest_file(path: Path) -> Digest:
    """sha256 and size of ``path``, read in 1 MiB blocks (hashlib releases the GIL)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb", buffering=0) as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
    return Digest(digest.hexdigest(), size)


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
    once, in 1 MiB blocks, hashed on the way. A plain archive is built *around* its largest
    member where the filesystem can insert a block at the start of a file (ext4, XFS): the
    snapshot file becomes the archive without being copied (see :func:`_in_place`), so the
    staged files may be gone afterwards. ``digests`` are :func:`digest_file` results taken
    of the staged files before (while something else read them): they are used, not
    recomputed, and a copied member that no longer matches its digest is an error.
    ``signer`` adds ``manifest.sig`` after the manifest (see :mod:`.signing`)."""
    if passphrase:
        check_passphrase(passphrase)  # before anything is written
    files = list(staged_files(staging))
    known = dict(digests or {})
    if not passphrase and files:
        built = _in_place(target, files, manifest, progress, known, signer)
        if built is not None:
            return built
    members: dict[str, dict[str, Any]] = {}
    with target.open("xb", buffering=0) as raw:
        os.fchmod(raw.fileno(), 0o600)
        sink: Any = _EncryptingWriter(raw, passphrase) if passphrase else raw
        for name, path in files:
            members[name] = _copy_member(sink, name, path, progress, known.get(path))
        manifest = {**manifest, "members": members}
        _finish(sink, manifest, signer)
        if passphrase:
            sink.finish()
        os.fsync(raw.fileno())
    return manifest


#: ``fallocate(2)`` mode that shifts a file's data up by whole blocks (Linux, ext4 and XFS).
_FALLOC_FL_INSERT_RANGE = 0x20
#: Below this, copying is as cheap as anything else.
_IN_PLACE_MIN = 8 << 20


def _libc_function(name: str) -> Any | None:
    """``name`` from the C library (Linux only), or ``None``."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True), name)
    except (OSError, AttributeError):
        return None


#: ``sync_file_range(2)`` flags: wait for earlier writes of the range, write it, wait again.
_SYNC_FILE_RANGE_WAIT_WRITE_WAIT = 1 | 2 | 4
#: How much is written to disk per step of :func:`write_back`.
WRITE_BACK_STEP = 8 << 20


def write_back(*paths: Path, step: int = WRITE_BACK_STEP) -> None:
    """Write the files' dirty pages to disk ``step`` bytes at a time, each step finished
    before the next (Linux; elsewhere nothing happens, and the archive's fsync does it).

    A snapshot lands in the page cache in about a second; left to the archive's fsync, the
    whole of it then goes to disk in one burst, and writers' commits that sync (SQLite
    checkpoints) wait behind it: up to 1.4 s in ``bench/backup.py``. Written in steps while
    the snapshot is checked, the longest wait measured is 0.3-0.5 s (writers' p99 stays
    near 2 ms), and the archive's fsync finds little left to write."""
    import ctypes

    sync_file_range = _libc_function("sync_file_range")
    if sync_file_range is None:
        return
    sync_file_range.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    sync_file_range.restype = ctypes.c_int
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            for offset in range(0, size, step):
                sync_file_range(fd, offset, step, _SYNC_FILE_RANGE_WAIT_WRITE_WAIT)
        finally:
            os.close(fd)


def _insert_range(path: Path, length: int) -> bool:
    """Insert ``length`` zero bytes at the start of ``path`` without moving its data."""
    import ctypes

    fallocate = _libc_function("fallocate")
    if fallocate is None:
        return False
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
    fallocate.restype = ctypes.c_int
    fd = os.open(path, os.O_RDWR)
    try:
        return bool(fallocate(fd, _FALLOC_FL_INSERT_RANGE, 0, length) == 0)
    finally:
        os.close(fd)


def _header_of_length(name: str, size: int, mtime: float, length: int) -> bytes | None:
    """A member header exactly ``length`` bytes long (a PAX comment record pads it)."""

    def build(pad: int) -> bytes:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = int(mtime)
        info.mode = 0o600
        if pad:
            info.pax_headers = {"comment": "-" * pad}
        return info.tobuf(format=tarfile.PAX_FORMAT)

    low, high = 0, length  # the header grows with the padding: find the first that fits
    while low < high:
        middle = (low + high) // 2
        if len(build(middle)) < length:
            low = middle + 1
        else:
            high = middle
    header = build(low)
    return header if len(header) == length else None


def _in_place(
    target: Path,
    files: list[tuple[str, Path]],
    manifest: dict[str, Any],
    progress: Callable[[str], None],
    known: Mapping[Path, Digest],
    signer: Signer | None,
) -> dict[str, Any] | None:
    """Turn the largest staged file into the archive: insert one filesystem block in front of
    its data for its tar header, hash the data where it lies, append the other members and
    the manifest, fsync, rename to ``target``. ``None`` (nothing changed) when the file is
    small or the filesystem cannot insert blocks; the caller then copies."""
    name, path = max(files, key=lambda item: item[1].stat().st_size)
    stat = path.stat()
    if stat.st_size < _IN_PLACE_MIN:
        return None
    block = max(os.statvfs(path).f_bsize, tarfile.BLOCKSIZE)
    length = block * -(-4096 // block)
    header = _header_of_length(name, stat.st_size, stat.st_mtime, length)
    if header is None:
        return None
    progress(f"archiving {name} ({_mb(stat.st_size)}) in place")
    # hashed before, while the snapshot is still in the page cache (inserting a range drops
    # the file's cached pages)
    digest = known.get(path) or digest_file(path)
    done = digest.size
    if done != stat.st_size:
        raise BackupError(f"{name} changed while it was archived")
    if not _insert_range(path, length):
        return None
    with path.open("r+b", buffering=0) as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(header)
        if os.fstat(fh.fileno()).st_size != length + done:
            raise BackupError(f"{name} changed while it was archived")
        members = {name: {"sha256": digest.sha256, "size": done}}
        fh.seek(length + done)
        fh.write(_pad(done))
        for other, other_path in files:
            if other != name:
                members[other] = _copy_member(
                    fh, other, other_path, progress, known.get(other_path)
                )
        manifest = {**manifest, "members": members}
        _finish(fh, manifest, signer)
        os.fsync(fh.fileno())
    os.replace(path, target)
    return manifest


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
