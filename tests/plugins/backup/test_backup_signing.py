"""Archives are signed and read defensively: a flipped bit anywhere (manifest included) is
refused, an unsigned or foreign archive only with --force-unsigned, and a hostile archive
(sparse members, members bigger than the manifest says, a huge manifest, more than the disk
holds) is refused before it is unpacked."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backup_support import DISABLE, RowsPlugin, all_rows, insert_rows

from soulspot_backup.archive import MANIFEST_NAME, BackupError, write_archive
from soulspot_backup.reading import read_archive
from soulspot_backup.service import service
from soulspot_backup.signing import ALTERED, SIGNED, UNKNOWN_KEY, UNSIGNED, KeyRing

BASE = {"format": 1, "id": "x", "trigger": "manual", "sources": [{"name": "database"}]}


def _staging(tmp_path: Path, size: int = 200_000) -> Path:
    staging = tmp_path / "staging"
    (staging / "database").mkdir(parents=True)
    (staging / "database" / "soulspot.db").write_bytes(bytes(range(256)) * (size // 256))
    return staging


def _signed(tmp_path: Path) -> tuple[Path, KeyRing]:
    ring = KeyRing(tmp_path / "data")
    target = tmp_path / "a.tar"
    write_archive(target, _staging(tmp_path), BASE, None, signer=ring.sign)
    return target, ring


def _span(archive: Path, name: str) -> tuple[int, int]:
    with tarfile.open(archive) as tar:
        member = tar.getmember(name)
        return member.offset_data, member.size


def test_key_ring_is_private_and_signatures_verify(tmp_path: Path) -> None:
    target, ring = _signed(tmp_path)
    assert ring.path == tmp_path / "data" / "keys" / "backup-signing.key"
    assert ring.path.stat().st_mode & 0o777 == 0o600
    assert ring.path.parent.stat().st_mode & 0o777 == 0o700
    assert read_archive(target, keys=ring.keys()).signature == SIGNED
    assert read_archive(target).signature == UNKNOWN_KEY  # another install: no key
    other = KeyRing(tmp_path / "elsewhere")
    other.merge(ring.keys())  # what restoring an encrypted backup does on a new machine
    assert read_archive(target, keys=other.keys()).signature == SIGNED


@pytest.mark.parametrize("where", [0.0, 0.25, 0.5, 0.75, 0.99])
def test_one_flipped_bit_in_the_manifest_is_refused(tmp_path: Path, where: float) -> None:
    target, ring = _signed(tmp_path)
    offset, size = _span(target, MANIFEST_NAME)
    data = bytearray(target.read_bytes())
    data[offset + int(size * where)] ^= 0x01
    target.write_bytes(bytes(data))
    result = read_archive(target, extract_to=tmp_path / "out", keys=ring.keys())
    assert result.problems, "a changed manifest must never verify"
    if result.manifest is None and result.signature == ALTERED:
        assert any("does not match its signature" in p for p in result.problems)
    assert not (tmp_path / "out" / "database").exists()  # nothing unpacked from it


@pytest.mark.parametrize("member", ["sources/database/soulspot.db", "manifest.sig"])
def test_one_flipped_bit_in_a_member_or_the_signature_is_refused(
    tmp_path: Path, member: str
) -> None:
    target, ring = _signed(tmp_path)
    offset, size = _span(target, member)
    data = bytearray(target.read_bytes())
    data[offset + size // 2] ^= 0x04
    target.write_bytes(bytes(data))
    result = read_archive(target, keys=ring.keys())
    assert result.problems or result.signature != SIGNED


def _tar(target: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data))


def _member(name: str, data: bytes, **pax: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    if pax:
        info.pax_headers = dict(pax)
    return info, data


def _manifest(members: dict[str, Any], sources: list[str]) -> tuple[tarfile.TarInfo, bytes]:
    body = json.dumps({**BASE, "members": members, "sources": [{"name": s} for s in sources]})
    return _member(MANIFEST_NAME, body.encode())


def test_sparse_member_is_refused_before_unpacking(tmp_path: Path) -> None:
    target = tmp_path / "bomb.tar"
    sparse = _member(
        "sources/database/soulspot.db",
        b"1\n0\n512\n".ljust(512, b"\0"),
        **{
            "GNU.sparse.major": "1",
            "GNU.sparse.minor": "0",
            "GNU.sparse.name": "sources/database/soulspot.db",
            "GNU.sparse.realsize": str(1 << 30),
        },
    )
    _tar(
        target,
        [sparse, _manifest({"sources/database/soulspot.db": {"size": 1 << 30}}, ["database"])],
    )
    result = read_archive(target, extract_to=tmp_path / "out")
    assert any("sparse member" in p for p in result.problems)
    assert not list((tmp_path / "out").rglob("*.db"))


def test_member_bigger_than_the_manifest_says_is_not_unpacked(tmp_path: Path) -> None:
    target = tmp_path / "big.tar"
    _tar(
        target,
        [
            _member("sources/database/soulspot.db", b"x" * 5000),
            _manifest(
                {"sources/database/soulspot.db": {"size": 10, "sha256": "0" * 64}}, ["database"]
            ),
        ],
    )
    result = read_archive(target, extract_to=tmp_path / "out")
    assert any("size 5000 but the manifest says 10" in p for p in result.problems)
    assert not list((tmp_path / "out").rglob("*.db"))


def test_a_second_copy_of_a_member_is_damage(tmp_path: Path) -> None:
    """A forged member of the same name and size before the genuine one: the manifest and
    its signature are untouched, so only the repeat gives it away (verify passed it)."""
    archive, ring = _signed(tmp_path)
    forged = tmp_path / "forged.tar"
    with tarfile.open(archive) as src, tarfile.open(forged, "w", format=tarfile.PAX_FORMAT) as out:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "sources/database/soulspot.db":
                evil = tarfile.TarInfo(member.name)
                evil.size = member.size
                out.addfile(evil, io.BytesIO(b"E" * member.size))
            out.addfile(member, io.BytesIO(data))
    result = read_archive(forged, keys=ring.keys())
    assert "sources/database/soulspot.db is in the archive twice" in result.problems
    assert result.signature == SIGNED  # the manifest alone would have passed


def test_huge_manifest_is_refused_unread(tmp_path: Path) -> None:
    target = tmp_path / "huge.tar"
    _tar(target, [_member(MANIFEST_NAME, b" " * (2 << 20))])
    result = read_archive(target)
    assert result.manifest is None
    assert any("more than the" in p for p in result.problems)


def test_member_of_a_source_the_manifest_does_not_list_is_damage(tmp_path: Path) -> None:
    target = tmp_path / "extra.tar"
    _tar(
        target,
        [
            _member("sources/sessions/evil.db", b"x"),
            _manifest({"sources/sessions/evil.db": {"size": 1, "sha256": "0" * 64}}, ["database"]),
        ],
    )
    result = read_archive(target, extract_to=tmp_path / "out")
    assert any("which the manifest does not list" in p for p in result.problems)
    assert not (tmp_path / "out" / "sessions").exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs (this suite runs as root, so it can mount one)."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_free_space_is_checked_before_unpacking(tmp_path: Path, small_disk: Path) -> None:
    target, ring = tmp_path / "a.tar", KeyRing(tmp_path / "data")
    write_archive(target, _staging(tmp_path, size=12 << 20), BASE, None, signer=ring.sign)
    result = read_archive(target, extract_to=small_disk / "out", keys=ring.keys())
    assert any(f"not enough free space in {small_disk / 'out'}" in p for p in result.problems)
    assert not list((small_disk / "out").rglob("*.db"))


def _app(make_app: Any, data: Path) -> Any:
    return make_app(plugins=[("rows", RowsPlugin())], disable=DISABLE, data_dir=data)


def test_unsigned_archive_is_refused_unless_forced_with_a_warning(
    make_app: Any, tmp_path: Path
) -> None:
    app = _app(make_app, tmp_path / "data")
    insert_rows(app, 10)
    with app.app_context():
        info = service(app).create("manual")
    before = all_rows(app)
    # an archive from before signing: the same tar without its manifest.sig
    old = tmp_path / info.path.name
    with tarfile.open(info.path) as src, tarfile.open(old, "w", format=tarfile.PAX_FORMAT) as dst:
        for member in src.getmembers():
            if member.name != "manifest.sig":
                dst.addfile(member, src.extractfile(member))
    assert read_archive(old, keys=service(app).signing.keys()).signature == UNSIGNED
    insert_rows(app, 5, start=10)
    with app.app_context(), pytest.raises(BackupError, match=r"is not signed.*--force-unsigned"):
        service(app).restore(str(old))
    assert len(all_rows(app)) == 15  # nothing changed
    with app.app_context():
        assert service(app).verify(str(old))  # verify says so too
        assert service(app).verify(str(old), force_unsigned=True) == []
        said: list[str] = []
        service(app).restore(str(old), progress=said.append, force_unsigned=True)
    assert all_rows(app) == before
    assert any(m.startswith("WARNING:") and "--force-unsigned" in m for m in said)


def test_a_changed_schema_is_refused_after_unpacking(make_app: Any, tmp_path: Path) -> None:
    """A trigger that erases audit rows (or any object the code does not make) in the
    archived database: the restore refuses it, and nothing changes."""
    app = _app(make_app, tmp_path / "data")
    insert_rows(app, 10)
    store = app.extensions["soulspot"].storage
    with app.app_context(), store.connection():
        store.database.execute_sql(
            "CREATE TRIGGER wipe AFTER INSERT ON audit_events BEGIN DELETE FROM audit_events; END"
        )
    with app.app_context():
        info = service(app).create("manual")  # signed by us: only the schema check stops it
    with app.app_context(), store.connection():
        store.database.execute_sql("DROP TRIGGER wipe")
    insert_rows(app, 5, start=10)
    with app.app_context(), pytest.raises(BackupError, match="unknown trigger 'wipe'"):
        service(app).restore(info.id)
    assert len(all_rows(app)) == 15
    assert not (tmp_path / "data" / "restore-in-progress.json").exists()
    assert not (tmp_path / "data" / ".soulspot.db.restoring").exists()
