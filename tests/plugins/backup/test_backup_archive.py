"""The archive format on its own: checksums, truncation, tampering, encryption, retention."""

from __future__ import annotations

import datetime as dt
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from soulspot_backup.archive import (
    BackupError,
    NeedsPassphrase,
    WrongPassphrase,
    new_name,
    parse_name,
    write_archive,
)
from soulspot_backup.reading import peek_manifest, read_archive
from soulspot_backup.retention import Candidate, Policy, to_prune

BASE = {
    "format": 1,
    "id": "x",
    "trigger": "manual",
    "schema_versions": {"sqlite": 1},
    "sources": [{"name": "database"}, {"name": "config"}],
}


def _staging(tmp_path: Path, big: int = 3_000_000) -> Path:
    staging = tmp_path / "staging"
    (staging / "database").mkdir(parents=True)
    (staging / "config").mkdir()
    (staging / "database" / "soulspot.db").write_bytes(bytes(range(256)) * (big // 256))
    (staging / "config" / "soulspot.toml").write_text("[kernel]\nport = 8765\n")
    return staging


def test_plain_round_trip_records_sha256_and_size(tmp_path: Path) -> None:
    staging = _staging(tmp_path)
    target = tmp_path / "a.tar"
    manifest = write_archive(target, staging, BASE, None)
    db = staging / "database" / "soulspot.db"
    entry = manifest["members"]["sources/database/soulspot.db"]
    import hashlib

    assert entry == {"sha256": hashlib.sha256(db.read_bytes()).hexdigest(), "size": 2_999_808}
    out = tmp_path / "out"
    result = read_archive(target, extract_to=out)
    assert result.problems == []
    assert result.manifest is not None and result.manifest["schema_versions"] == {"sqlite": 1}
    assert (out / "database" / "soulspot.db").read_bytes() == db.read_bytes()
    assert (out / "config" / "soulspot.toml").read_text() == "[kernel]\nport = 8765\n"
    assert peek_manifest(target) == result.manifest
    with tarfile.open(target) as tar:  # manifest is an ordinary member, last
        assert tar.getnames()[-1] == "manifest.json"  # unsigned: no manifest.sig


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.9, 0.999])
def test_truncated_plain_archive_is_reported(tmp_path: Path, keep: float) -> None:
    target = tmp_path / "a.tar"
    write_archive(target, _staging(tmp_path), BASE, None)
    data = target.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    result = read_archive(target)
    assert result.problems and any("truncated" in p or "empty" in p for p in result.problems)
    if keep < 0.99:  # cut before the manifest
        assert result.manifest is None


def test_flipped_byte_is_a_checksum_mismatch(tmp_path: Path) -> None:
    target = tmp_path / "a.tar"
    write_archive(target, _staging(tmp_path), BASE, None)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    problems = read_archive(target).problems
    assert problems == ["sources/database/soulspot.db: checksum mismatch (the archive is corrupt)"]


def test_unknown_member_and_path_traversal_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "evil.tar"
    payload = json.dumps({**BASE, "members": {}}).encode()
    import io

    with tarfile.open(target, "w") as tar:
        info = tarfile.TarInfo("sources/../../etc/owned")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
        info = tarfile.TarInfo("manifest.json")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    out = tmp_path / "out"
    problems = read_archive(target, extract_to=out).problems
    assert any("unexpected member" in p for p in problems)
    assert not (tmp_path / "etc").exists()


def test_not_a_backup_at_all(tmp_path: Path) -> None:
    target = tmp_path / "random.tar"
    target.write_bytes(b"hello world" * 1000)
    result = read_archive(target)
    assert result.manifest is None and result.problems


@pytest.mark.slow
def test_encrypted_round_trip_and_wrong_passphrase(tmp_path: Path) -> None:
    staging = _staging(tmp_path)
    target = tmp_path / "a.tar.enc"
    write_archive(target, staging, BASE, "correct horse")
    raw = target.read_bytes()
    assert b"port = 8765" not in raw and bytes(range(256)) not in raw  # whole archive sealed
    out = tmp_path / "out"
    result = read_archive(target, "correct horse", extract_to=out)
    assert result.problems == []
    assert (out / "config" / "soulspot.toml").read_text() == "[kernel]\nport = 8765\n"
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        read_archive(target, "battery staple")
    with pytest.raises(NeedsPassphrase, match="encrypted"):
        read_archive(target, None)


@pytest.mark.parametrize(
    "change",
    [{"kdf": {"n": 131071}}, {"kdf": {"n": 1}}, {"kdf": {"r": 0}}, {"kdf": {"p": 0}},
     {"nonce_prefix": "AAAA"}],
    ids=["n not a power of two", "n too small", "r zero", "p zero", "short nonce prefix"],
)  # fmt: skip
def test_impossible_key_derivation_settings_are_damage_not_a_crash(
    tmp_path: Path, change: dict[str, Any]
) -> None:
    """scrypt and AES-GCM refuse these with ValueError, which escaped as a traceback (a 500
    for an uploaded archive)."""
    import json

    from soulspot_backup.sealing import MAGIC

    target = tmp_path / "a.tar.enc"
    write_archive(target, _staging(tmp_path), BASE, "correct horse")
    raw = target.read_bytes()
    size = int.from_bytes(raw[len(MAGIC) : len(MAGIC) + 4], "big")
    start = len(MAGIC) + 4
    header = json.loads(raw[start : start + size])
    for key, value in change.items():
        header[key] = {**header[key], **value} if isinstance(value, dict) else value
    new = json.dumps(header).encode()
    target.write_bytes(MAGIC + len(new).to_bytes(4, "big") + new + raw[start + size :])
    result = read_archive(target, "correct horse", extract_to=tmp_path / "out")
    assert result.problems and "header is damaged" in result.problems[0], result.problems


@pytest.mark.parametrize("cut", [10, 30, 0.5, -1])
def test_truncated_encrypted_archive_is_reported(tmp_path: Path, cut: float) -> None:
    target = tmp_path / "a.tar.enc"
    write_archive(target, _staging(tmp_path), BASE, "pw-long-enough")
    data = target.read_bytes()
    end = int(cut) if cut >= 1 else (len(data) - 1 if cut == -1 else int(len(data) * cut))
    target.write_bytes(data[:end])
    result = read_archive(target, "pw-long-enough")
    assert result.manifest is None
    assert any("truncated" in p for p in result.problems), result.problems


def test_tampered_encrypted_archive_fails_authentication(tmp_path: Path) -> None:
    target = tmp_path / "a.tar.enc"
    write_archive(target, _staging(tmp_path), BASE, "pw-long-enough")
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    result = read_archive(target, "pw-long-enough")
    assert any("fails authentication" in p for p in result.problems), result.problems


def test_names_round_trip_and_temp_names_are_not_backups() -> None:
    name = new_name("pre-restore", True, dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    assert name.filename.startswith("soulspot-20260102T030405Z-pre-restore-")
    assert name.filename.endswith(".tar.enc")
    assert parse_name(name.filename) == name
    assert parse_name(".tmp-" + name.filename) is None
    assert parse_name("state.json") is None
    with pytest.raises(BackupError):
        new_name("whenever", False)


def _c(ident: str, when: dt.datetime, trigger: str = "scheduled") -> Candidate:
    return Candidate(ident, when, trigger)


def test_retention_keeps_last_daily_weekly_monthly_and_never_manual() -> None:
    start = dt.datetime(2026, 1, 1, 3, tzinfo=dt.UTC)
    backups = [_c(f"s{i:03d}", start + dt.timedelta(hours=12 * i)) for i in range(200)]
    backups.append(_c("manual-old", start - dt.timedelta(days=400), "manual"))
    backups.append(_c("pre-restore-old", start - dt.timedelta(days=300), "pre-restore"))
    policy = Policy(keep_last=3, keep_daily=5, keep_weekly=3, keep_monthly=2)
    pruned = set(to_prune(backups, policy))
    kept = {b.id for b in backups} - pruned
    assert {"manual-old", "pre-restore-old"} <= kept
    assert {"s199", "s198", "s197"} <= kept  # last 3
    # 5 days (newest per day = odd index), 3 weeks, 2 months: a small set, newest first
    assert len(kept - {"manual-old", "pre-restore-old"}) <= 3 + 5 + 3 + 2
    days = {b.created_at.date() for b in backups if b.id in kept and b.trigger == "scheduled"}
    assert len(days) >= 5
    assert "s000" in pruned and "s100" in pruned


def test_retention_never_prunes_the_newest_sound_backup() -> None:
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    backups = [
        Candidate("bad", now, "scheduled", sound=False),
        Candidate("good", now - dt.timedelta(days=90), "scheduled", verified=True),
    ]
    assert to_prune(backups, Policy(keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0)) == []


def test_retention_keeps_the_newest_verified_backup_behind_unverified_ones() -> None:
    """Archives nobody verified yet (``verified=None``) must not push out the last one that
    passed verification."""
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    backups = [
        Candidate(f"unverified-{i}", now - dt.timedelta(hours=i), "scheduled") for i in range(3)
    ]
    backups.append(Candidate("verified", now - dt.timedelta(days=40), "scheduled", verified=True))
    backups.append(Candidate("older", now - dt.timedelta(days=50), "scheduled", verified=True))
    pruned = to_prune(backups, Policy(keep_last=2, keep_daily=1, keep_weekly=0, keep_monthly=0))
    assert "verified" not in pruned
    assert pruned == ["older", "unverified-2"]


def test_big_member_is_an_ordinary_tar_member(tmp_path: Path) -> None:
    import subprocess

    staging = _staging(tmp_path, big=9 * 1024 * 1024 + 123)
    db = staging / "database" / "soulspot.db"
    original = db.read_bytes()
    target = tmp_path / "a.tar"
    manifest = write_archive(target, staging, BASE, None)
    assert db.read_bytes() == original  # the staged file is read, never changed
    assert target.stat().st_mode & 0o777 == 0o600
    out = tmp_path / "out"
    result = read_archive(target, extract_to=out)
    assert result.problems == [] and result.manifest == manifest
    assert (out / "database" / "soulspot.db").read_bytes() == original
    listing = subprocess.run(["tar", "tvf", str(target)], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr  # an ordinary tar file for GNU tar too
    assert "sources/database/soulspot.db" in listing.stdout
    assert "manifest.json" in listing.stdout


def test_digests_taken_before_are_used_and_a_wrong_one_never_verifies(tmp_path: Path) -> None:
    """The service hashes the staged files while the sources check them; the archive
    records those digests, and a copied file that no longer matches its digest (big or
    small) is refused while the archive is written."""
    from soulspot_backup.archive import Digest, digest_file

    good = _staging(tmp_path / "good", big=9 * 1024 * 1024 + 7)
    files = sorted(p for p in good.rglob("*") if p.is_file())
    digests = {p: digest_file(p) for p in files}
    db = good / "database" / "soulspot.db"
    assert digests[db].size == db.stat().st_size
    manifest = write_archive(tmp_path / "good.tar", good, BASE, None, digests=digests)
    assert manifest["members"]["sources/database/soulspot.db"]["sha256"] == digests[db].sha256
    assert read_archive(tmp_path / "good.tar").problems == []

    for size in (9 * 1024 * 1024 + 7, 4096):
        staged = _staging(tmp_path / f"bad-{size}", big=size)
        staged_db = staged / "database" / "soulspot.db"
        with pytest.raises(BackupError, match="changed while it was archived"):
            write_archive(
                tmp_path / f"bad-{size}.tar",
                staged,
                BASE,
                None,
                digests={staged_db: Digest("0" * 64, staged_db.stat().st_size)},
            )
