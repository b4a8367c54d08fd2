"""The incremental scan: only changed files are read, removals noticed, bad files listed,
symlink loops survived, one scan at a time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from collection_support import ONLY, ListVault, VaultPlugin, config
from tests.support.audio_files import AUDIO_TYPES, Tags, write_audio

from soulspot_collection.scanner import ScanBusy, scan_lock
from soulspot_collection.service import service


def _files(music: Path, n: int = 7) -> list[Path]:
    return [
        write_audio(
            music / f"Artist {i}" / f"song{i}.{kind}", Tags(f"Song {i}", f"Artist {i}"), 100 + i
        )
        for i, kind in zip(range(n), AUDIO_TYPES * 3, strict=False)
    ]


@pytest.fixture
def music(tmp_path):
    folder = tmp_path / "music"
    _files(folder)
    return folder


@pytest.fixture
def app(make_app, music):
    return make_app(config(music), only=ONLY, plugins=[("vault", VaultPlugin(ListVault()))])


def scan(app, **kwargs):
    with app.app_context():
        return service(app).scan(**kwargs).scan


def test_a_rescan_reads_only_what_changed_and_notices_removals(app, music):
    first = scan(app)
    assert (first.seen, first.read, first.new, first.removed) == (7, 7, 7, 0)
    again = scan(app)
    assert (again.seen, again.read, again.new, again.changed, again.removed) == (7, 0, 0, 0, 0)

    changed = music / "Artist 1" / "song1.flac"
    write_audio(changed, Tags("Song One (edited)", "Artist 1"), 101)
    os.utime(changed, ns=(1, 1_000_000_000))  # a new mtime even on coarse clocks
    (music / "Artist 2" / "song2.m4a").unlink()
    write_audio(music / "New" / "new.opus", Tags("New", "Someone"), 50)
    third = scan(app)
    assert (third.seen, third.read, third.new, third.changed, third.removed) == (7, 2, 1, 1, 1)

    full = scan(app, full=True)
    assert (full.read, full.removed) == (7, 0)
    with app.app_context():
        assert service(app).file_counts() == {"files": 7, "unreadable": 0}


def test_unreadable_files_are_listed_with_their_reason_and_the_scan_goes_on(app, music, run_cli):
    (music / "broken.flac").write_bytes(b"fLaC\x00\x00")  # a header, then nothing
    (music / "noise.mp3").write_bytes(os.urandom(64))
    (music / "empty.ogg").write_bytes(b"")
    summary = scan(app)
    assert summary.seen == 10 and summary.unreadable == 3
    client = app.test_client()
    items = client.get("/api/collection/unreadable").get_json()["items"]
    reasons = {Path(i["path"]).name: i["error"] for i in items}
    assert set(reasons) == {"broken.flac", "noise.mp3", "empty.ogg"}
    assert all(reasons.values())
    page = client.get("/collection/files").get_data(as_text=True)
    assert "broken.flac" in page and reasons["broken.flac"] in page
    # unchanged unreadable files are not read again, and still counted
    again = scan(app)
    assert again.read == 0 and again.unreadable == 3


def test_symlink_loops_are_detected_and_links_can_be_ignored(make_app, tmp_path, music):
    (music / "Artist 0" / "loop").symlink_to(music)  # points back up the tree
    outside = tmp_path / "elsewhere"
    write_audio(outside / "linked.mp3", Tags("Linked", "Far Away"), 90)
    (music / "link-to-elsewhere").symlink_to(outside)
    (music / "same-file.mp3").symlink_to(music / "Artist 0" / "song0.mp3")

    vault = [("vault", VaultPlugin(ListVault()))]
    following = make_app(config(music), only=ONLY, plugins=vault)
    summary = scan(following)
    assert summary.seen == 8  # 7 + the linked folder's file; the loop and the repeat skipped
    assert any(p.endswith("loop") for p in summary.loops)

    not_following = make_app(
        config(music, follow_symlinks=False),
        only=ONLY,
        plugins=vault,
        data_dir=tmp_path / "other-data",
    )
    assert scan(not_following).seen == 7


def test_file_types_are_configurable(make_app, music):
    app = make_app(
        config(music, file_types=["flac", "ogg"]),
        only=ONLY,
        plugins=[("vault", VaultPlugin(ListVault()))],
    )
    assert scan(app).seen == 2


def test_an_unmounted_music_folder_is_reported_and_its_files_kept(make_app, tmp_path, music):
    disk = tmp_path / "usb-disk"
    write_audio(disk / "a.mp3", Tags("On The Disk", "Someone"), 120)
    settings = {"plugins": {"collection": {"music_dirs": [str(music), str(disk)]}}}
    app = make_app(settings, only=ONLY, plugins=[("vault", VaultPlugin(ListVault()))])
    assert scan(app).seen == 8
    disk.rename(tmp_path / "unplugged")
    summary = scan(app)
    assert summary.removed == 0
    assert [path for path, _ in summary.problems] == [str(disk)]
    with app.app_context():
        assert service(app).file_counts()["files"] == 8
        assert "usb-disk" in service(app).last_scan().error


def test_an_empty_mount_point_is_not_everything_removed(make_app, tmp_path, music):
    """A disk that is not mounted leaves its mount point: an empty folder that exists."""
    disk = tmp_path / "mnt"
    write_audio(disk / "a.mp3", Tags("On The Disk", "Someone"), 120)
    settings = {"plugins": {"collection": {"music_dirs": [str(music), str(disk)]}}}
    app = make_app(settings, only=ONLY, plugins=[("vault", VaultPlugin(ListVault()))])
    assert scan(app).seen == 8
    (disk / "a.mp3").unlink()  # unmounted: the folder stays, empty
    summary = scan(app)
    assert summary.removed == 0
    assert summary.problems == [(str(disk), "music folder is empty: is its disk or share mounted?")]
    with app.app_context():
        assert service(app).file_counts()["files"] == 8


def test_a_file_name_in_another_encoding_is_listed_and_the_scan_goes_on(app, music):
    """Latin-1 names from an old disk: SQLite stores UTF-8 only, and the whole scan failed."""
    source = bytes(music / "Artist 0" / "song0.mp3")
    latin1 = os.path.join(bytes(music), b"caf\xe9 - Song.mp3")
    with open(source, "rb") as original, open(latin1, "wb") as copy:
        copy.write(original.read())
    summary = scan(app)
    assert summary.seen == 7  # every other file
    (problem,) = summary.problems
    assert problem == (
        str(music / "caf\\xe9 - Song.mp3"),
        "name is not valid UTF-8: rename it to scan it",
    )


def test_one_scan_at_a_time(app, run_cli, music, tmp_path):
    with app.app_context():
        lock = service(app).lock_path
    with scan_lock(lock):
        with pytest.raises(ScanBusy):
            scan(app)
        with app.app_context():
            assert service(app).start_scan() is False
    assert scan(app).seen == 7
