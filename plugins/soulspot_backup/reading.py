"""Reading an archive back: checksums, signature, and limits that make a hostile archive
harmless.

An archive is data from outside: a copy kept off the machine may have been changed. So:

* the manifest is capped (:data:`MANIFEST_MAX`) and its signature checked (:mod:`.signing`);
  the result says whether the archive is signed by this install, unsigned, signed by a key
  this install lacks, or altered; the caller decides what to accept;
* sparse members, links, devices and paths outside ``sources/<source>/`` are refused;
* a member of a source the manifest does not list, one the manifest does not list, and one
  bigger than the manifest says are damage (a plain archive's manifest is read first, so
  such a member is never extracted; an encrypted one is read as a stream, and bounded by
  the archive's own size: members are stored, not compressed);
* before extracting, the free space of the target is checked against what will be written.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from . import signing
from .archive import (
    CHUNK,
    FORMAT_VERSION,
    MANIFEST_MAX,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    BackupError,
    NeedsPassphrase,
    WrongPassphrase,
    is_encrypted,
)
from .digest import copy_hashed
from .sealing import DecryptingReader

#: Kept free on the target beyond what an extraction writes.
FREE_MARGIN = 1 << 20


@dataclass
class ReadResult:
    manifest: dict[str, Any] | None
    problems: list[str]
    #: What :func:`soulspot_backup.signing.check` found (``unsigned`` when not checked).
    signature: str = signing.UNSIGNED
    encrypted: bool = False
    #: Source names that have members in the archive.
    sources_found: set[str] = field(default_factory=set)

    @property
    def authentic(self) -> bool:
        """Signed by this install, or sealed with the passphrase (which authenticates)."""
        return self.signature == signing.SIGNED or (
            self.encrypted and self.signature != signing.ALTERED
        )


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _safe_member(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or len(path.parts) < 3:
        return None
    if path.parts[0] != "sources":
        return None
    return path


def _small(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int, what: str) -> bytes:
    if not member.isreg() or member.issparse():
        raise BackupError(f"the {what} is not a plain file (refusing to read it)")
    if member.size > limit:
        raise BackupError(
            f"the {what} is {member.size} bytes, more than the {limit} a SoulSpot backup has"
        )
    fh = tar.extractfile(member)
    if fh is None:
        raise BackupError(f"the {what} cannot be read")
    return fh.read(limit + 1)[:limit]


def _free_space(target: Path, needed: int) -> str | None:
    target.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target).free
    if free < needed + FREE_MARGIN:
        return (
            f"not enough free space in {target} to unpack the archive: it needs "
            f"{_mb(needed + FREE_MARGIN)}, {_mb(free)} are free (nothing was unpacked)"
        )
    return None


def read_archive(
    path: Path,
    passphrase: str | None = None,
    extract_to: Path | None = None,
    progress: Callable[[str], None] = lambda _m: None,
    keys: Sequence[bytes] = (),
) -> ReadResult:
    """Read the whole archive, checking every member against the manifest and the manifest
    against its signature (with ``keys``). With ``extract_to``, files land in
    ``extract_to/<source>/...``. Wrong or missing passphrases raise; every other problem is
    reported in the result (empty ``problems``: sound; see ``signature`` for authenticity)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return ReadResult(None, [f"cannot read the archive: {exc.strerror}"])
    if size == 0:
        return ReadResult(None, ["the archive is empty (truncated)"])
    if is_encrypted(path):
        return _read_stream(path, size, passphrase, extract_to, progress, keys)
    return _read_plain(path, extract_to, progress, keys)


def _read_plain(
    path: Path,
    extract_to: Path | None,
    progress: Callable[[str], None],
    keys: Sequence[bytes],
) -> ReadResult:
    """A plain archive: the headers and the manifest first (random access), then members."""
    result = ReadResult(None, [])
    problems = result.problems
    with path.open("rb", buffering=CHUNK) as raw:
        try:
            with tarfile.open(fileobj=raw, mode="r:", bufsize=CHUNK) as tar:
                members = tar.getmembers()
                manifest_data, sig = _manifest_members(tar, members)
                if manifest_data is None:
                    problems.append(
                        "the archive has no manifest (truncated, or not a SoulSpot backup)"
                    )
                    if not _tar_end_ok(raw):
                        problems.append("the archive is truncated (its tar end marker is missing)")
                    return result
                manifest = _parse_manifest(manifest_data, problems)
                if manifest is None:
                    return result
                result.signature = signing.check(manifest_data, sig, keys)
                if result.signature == signing.ALTERED:
                    problems.append(_ALTERED)
                    return result
                expected = _members_of(manifest)
                listed = _source_names(manifest)
                chosen: list[tuple[tarfile.TarInfo, PurePosixPath]] = []
                for member in members:
                    if member.name in (MANIFEST_NAME, SIGNATURE_NAME):
                        continue
                    safe = _check_member(member, listed, problems)
                    if safe is None:
                        continue
                    result.sources_found.add(safe.parts[1])
                    want = expected.get(member.name)
                    if want is None:
                        problems.append(f"{member.name} is in the archive but not in its manifest")
                        continue
                    if member.size != want.get("size"):
                        problems.append(
                            f"{member.name}: size {member.size} but the manifest says "
                            f"{want.get('size')} (refusing to unpack it)"
                        )
                        continue
                    chosen.append((member, safe))
                if extract_to is not None:
                    short = _free_space(extract_to, sum(m.size for m, _ in chosen))
                    if short is not None:
                        problems.append(short)
                        return result
                seen: dict[str, dict[str, Any]] = {}
                for member, safe in chosen:
                    if member.name in seen:  # one listed copy, another unlisted one
                        problems.append(f"{member.name} is in the archive twice")
                        continue
                    progress(f"checking {member.name} ({_mb(member.size)})")
                    seen[member.name] = _consume(tar, member, safe, extract_to)
                if not _tar_end_ok(raw):
                    problems.append("the archive is truncated (its tar end marker is missing)")
        except BackupError as exc:
            problems.append(str(exc))
            return result
        except (tarfile.TarError, EOFError, OSError) as exc:
            problems.append(f"the archive is truncated or damaged ({exc})")
            return result
    result.manifest = manifest
    _compare(expected, seen, problems, already_reported=True)
    return result


def _read_stream(
    path: Path,
    size: int,
    passphrase: str | None,
    extract_to: Path | None,
    progress: Callable[[str], None],
    keys: Sequence[bytes],
) -> ReadResult:
    """An encrypted archive: one authenticated stream, the manifest at its end."""
    result = ReadResult(None, [], encrypted=True)
    problems = result.problems
    seen: dict[str, dict[str, Any]] = {}
    manifest_data: bytes | None = None
    sig: bytes | None = None
    if extract_to is not None:  # stored members: never more than the archive's size
        short = _free_space(extract_to, size)
        if short is not None:
            return ReadResult(None, [short], encrypted=True)
    with path.open("rb", buffering=CHUNK) as raw:
        try:
            reader = DecryptingReader(raw, passphrase)
        except (NeedsPassphrase, WrongPassphrase):
            raise
        except BackupError as exc:  # a damaged or cut header
            return ReadResult(None, [str(exc)], encrypted=True)
        try:
            with tarfile.open(fileobj=reader, mode="r|", bufsize=CHUNK) as tar:
                for member in tar:
                    if member.name == MANIFEST_NAME:
                        manifest_data = _small(tar, member, MANIFEST_MAX, "manifest")
                        continue
                    if member.name == SIGNATURE_NAME:
                        sig = _small(tar, member, signing.SIGNATURE_MAX, "signature")
                        continue
                    safe = _check_member(member, None, problems)
                    if safe is None:
                        continue
                    result.sources_found.add(safe.parts[1])
                    if member.name in seen:  # one listed copy, another unlisted one
                        problems.append(f"{member.name} is in the archive twice")
                        continue
                    progress(f"checking {member.name} ({_mb(member.size)})")
                    seen[member.name] = _consume(tar, member, safe, extract_to)
            reader.drain()
        except BackupError as exc:
            if isinstance(exc, NeedsPassphrase | WrongPassphrase):
                raise
            problems.append(str(exc))
        except (tarfile.TarError, EOFError, OSError) as exc:
            problems.append(f"the archive is truncated or damaged ({exc})")
    if manifest_data is None:
        if not any("manifest" in p for p in problems):
            problems.append(
                "the archive's manifest is missing (it is truncated, damaged, or not a "
                "SoulSpot backup)"
            )
        return result
    manifest = _parse_manifest(manifest_data, problems)
    if manifest is None:
        return result
    result.signature = signing.check(manifest_data, sig, keys)
    if result.signature == signing.ALTERED:
        problems.append(_ALTERED)
        return result
    result.manifest = manifest
    listed = _source_names(manifest)
    for source in sorted(result.sources_found - listed):
        problems.append(
            f"the archive holds files of source {source!r}, which its manifest does not list"
        )
    _compare(_members_of(manifest), seen, problems, already_reported=False)
    return result


_ALTERED = (
    "the manifest does not match its signature: the archive was altered or damaged "
    "(refusing to use any of it)"
)


def _manifest_members(
    tar: tarfile.TarFile, members: list[tarfile.TarInfo]
) -> tuple[bytes | None, bytes | None]:
    manifest = sig = None
    for member in members:
        if member.name == MANIFEST_NAME:
            if manifest is not None:
                raise BackupError("the archive has two manifests")
            manifest = _small(tar, member, MANIFEST_MAX, "manifest")
        elif member.name == SIGNATURE_NAME:
            sig = _small(tar, member, signing.SIGNATURE_MAX, "signature")
    return manifest, sig


def _parse_manifest(data: bytes, problems: list[str]) -> dict[str, Any] | None:
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        problems.append("the manifest is not valid JSON")
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        problems.append(f"unknown archive format {fmt!r} (this SoulSpot reads {FORMAT_VERSION})")
        return None
    if not isinstance(manifest.get("members") or {}, dict) or not isinstance(
        manifest.get("sources") or [], list
    ):
        problems.append("the manifest is damaged (members or sources of the wrong kind)")
        return None
    return manifest


def _members_of(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    members = manifest.get("members") or {}
    return {str(k): v if isinstance(v, dict) else {} for k, v in members.items()}


def _source_names(manifest: Mapping[str, Any]) -> set[str]:
    return {
        str(entry.get("name"))
        for entry in manifest.get("sources") or []
        if isinstance(entry, dict) and entry.get("name")
    }


def _check_member(
    member: tarfile.TarInfo, listed: set[str] | None, problems: list[str]
) -> PurePosixPath | None:
    """The member's safe path, or ``None`` (and a problem) when it must not be unpacked."""
    safe = _safe_member(member.name)
    if member.isdir() and safe is not None:
        return None
    if safe is None or not member.isreg():
        problems.append(f"unexpected member {member.name!r} (refusing to use it)")
        return None
    if member.issparse():
        problems.append(f"{member.name} is a sparse member (refusing to unpack it)")
        return None
    if listed is not None and safe.parts[1] not in listed:
        problems.append(
            f"{member.name} belongs to source {safe.parts[1]!r}, which the manifest does not "
            "list (refusing to use it)"
        )
        return None
    return safe


def _compare(
    expected: Mapping[str, Mapping[str, Any]],
    seen: Mapping[str, Mapping[str, Any]],
    problems: list[str],
    *,
    already_reported: bool,
) -> None:
    for name, want in expected.items():
        got = seen.get(name)
        if got is None:
            if not any(p.startswith(f"{name}:") for p in problems):
                problems.append(f"{name} is listed in the manifest but missing from the archive")
        elif got["size"] != want.get("size"):
            problems.append(f"{name}: size {got['size']} but the manifest says {want.get('size')}")
        elif got["sha256"] != want.get("sha256"):
            problems.append(f"{name}: checksum mismatch (the archive is corrupt)")
    if not already_reported:
        for name in seen:
            if name not in expected:
                problems.append(f"{name} is in the archive but not in its manifest")


def _consume(
    tar: tarfile.TarFile, member: tarfile.TarInfo, safe: PurePosixPath, extract_to: Path | None
) -> dict[str, Any]:
    fh = tar.extractfile(member)
    if fh is None:
        raise BackupError(f"{member.name} cannot be read from the archive")
    out: IO[bytes] | None = None
    if extract_to is not None:
        dest = extract_to.joinpath(*safe.parts[1:])
        dest.parent.mkdir(parents=True, exist_ok=True)
        out = dest.open("xb")
    try:
        found = copy_hashed(fh, out.write if out is not None else None, limit=member.size)
        if out is not None:
            out.flush()
            os.fsync(out.fileno())
    finally:
        if out is not None:
            out.close()
    if found.size != member.size:
        raise BackupError(f"the archive is truncated (in {member.name})")
    return {"sha256": found.sha256, "size": found.size}


def _tar_end_ok(raw: IO[bytes]) -> bool:
    """A complete tar stream ends with two zero blocks; a cut one does not."""
    raw.seek(0, os.SEEK_END)
    end = raw.tell()
    if end < 1024 or end % 512:
        return False
    raw.seek(end - 1024)
    return raw.read(1024) == b"\0" * 1024


def peek_manifest(path: Path, passphrase: str | None = None) -> dict[str, Any] | None:
    """The manifest of a plain archive without reading the members (tar headers only)."""
    if is_encrypted(path):
        return read_archive(path, passphrase).manifest
    try:
        with tarfile.open(path, mode="r:") as tar:
            data, _sig = _manifest_members(tar, tar.getmembers())
        manifest = json.loads(data) if data is not None else None
        return manifest if isinstance(manifest, dict) else None
    except (tarfile.TarError, BackupError, ValueError, OSError, EOFError):
        return None
