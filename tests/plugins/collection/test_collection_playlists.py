"""M3U8 export: one file per playlist and for liked songs, relative paths, UTF-8, #EXTINF."""

from __future__ import annotations

import os

import pytest
from collection_support import ONLY, ListVault, VaultPlugin, config, vault_track
from tests.support.audio_files import Tags, write_audio
from tests.support.collection_corpus import CorpusTrack

from soulspot import api
from soulspot_collection.playlists import MANIFEST, export
from soulspot_collection.service import service

SONGS = [
    CorpusTrack("A" * 22, "Hyperballad", ("Björk",), "Post", 321_000),
    CorpusTrack("B" * 22, "Svefn-g-englar", ("Sigur Rós",), "Ágætis byrjun", 604_000),
    CorpusTrack("C" * 22, "Not At Home", ("Nobody",), "", 200_000),
]


def test_playlists_are_written_with_relative_paths(make_app, tmp_path):
    music = tmp_path / "music"
    write_audio(music / "Björk" / "Post" / "01 Hyperballad.flac", Tags("Hyperballad", "Björk"), 321)
    write_audio(music / "Sigur Rós" / "02.ogg", Tags("Svefn-g-englar", "Sigur Ros"), 604)
    vault = ListVault()
    for song in SONGS:
        vault.known[song.id] = vault_track(song)
    vault.liked_ids = [SONGS[1].id, SONGS[0].id]
    vault.lists["p1"] = ('Ambient / Nordic: "best"', [s.id for s in SONGS] + [SONGS[0].id])
    vault.lists["p2"] = ('ambient / nordic: "BEST"', [SONGS[2].id])  # same file name, folded
    app = make_app(config(music), only=ONLY, plugins=[("vault", VaultPlugin(vault))])
    out = tmp_path / "playlists"
    with app.app_context():
        service(app).scan()
        with api.storage().connection():
            written = export(api.library(), service(app).standing(), out)
    names = sorted(p.name for p in out.glob("*.m3u8"))
    assert names == sorted(
        ["Liked Songs.m3u8", "Ambient _ Nordic_ _best_.m3u8", "ambient _ nordic_ _BEST_ (2).m3u8"]
    )
    nordic = (out / "Ambient _ Nordic_ _best_.m3u8").read_text(encoding="utf-8").splitlines()
    assert nordic == [
        "#EXTM3U",
        '#PLAYLIST:Ambient / Nordic: "best"',
        "#EXTINF:321,Björk - Hyperballad",
        os.path.join("..", "music", "Björk", "Post", "01 Hyperballad.flac"),
        "#EXTINF:604,Sigur Rós - Svefn-g-englar",
        os.path.join("..", "music", "Sigur Rós", "02.ogg"),
        "#EXTINF:321,Björk - Hyperballad",
        os.path.join("..", "music", "Björk", "Post", "01 Hyperballad.flac"),
    ]
    # every listed path resolves from the playlist folder
    for line in nordic:
        if not line.startswith("#"):
            assert (out / line).is_file()
    liked = (out / "Liked Songs.m3u8").read_text(encoding="utf-8").splitlines()
    assert liked[2] == "#EXTINF:604,Sigur Rós - Svefn-g-englar"
    assert {w.name: (w.tracks, w.skipped) for w in written}["Liked Songs"] == (2, 0)

    # a playlist gone from the library loses its file; files we did not write stay
    (out / "mine.m3u8").write_text("#EXTM3U\n")
    del vault.lists["p2"]
    with app.app_context(), api.storage().connection():
        export(api.library(), service(app).standing(), out)
    assert not (out / "ambient _ nordic_ _BEST_ (2).m3u8").exists()
    assert (out / "mine.m3u8").exists() and (out / MANIFEST).exists()


def test_the_scheduled_jobs_scan_and_export(make_app, tmp_path):
    from soulspot.testing import run_jobs

    music = tmp_path / "music"
    write_audio(music / "a.flac", Tags("Hyperballad", "Björk"), 321)
    vault = ListVault()
    vault.known[SONGS[0].id] = vault_track(SONGS[0])
    vault.liked_ids = [SONGS[0].id]
    out = tmp_path / "navidrome"
    settings = config(music, playlist_dir=str(out), scan_schedule="15 2 * * 0")
    app = make_app(settings, only=ONLY, plugins=[("vault", VaultPlugin(vault))])
    run_jobs(app, "collection.scan")
    run_jobs(app, "collection.export")
    liked = (out / "Liked Songs.m3u8").read_text(encoding="utf-8")
    assert "#EXTINF:321,Björk - Hyperballad" in liked
    with app.app_context(), api.storage().connection():
        assert api.storage().audit.count(event="collection.playlists_exported") == 1

    quiet = make_app(
        config(music, scan_schedule="off"), only=ONLY, plugins=[("vault", VaultPlugin(vault))]
    )
    with pytest.raises(LookupError):
        run_jobs(quiet, "collection.scan")
    with pytest.raises(LookupError):
        run_jobs(quiet, "collection.export")  # no playlist_dir


def test_names_with_line_breaks_files_named_hash_and_a_linked_folder(make_app, tmp_path):
    """What players misread: a line break in a playlist name or a title ended its line, and
    a path starting with '#' is a comment; and a folder reached through a symlink gave paths
    through the link's target (they broke where the disk is mounted elsewhere)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    (tmp_path / "media").symlink_to(disk)
    music = tmp_path / "media" / "music"  # configured through the link
    song = CorpusTrack("D" * 22, "Hit\rRemix", ("Someone",), "", 200_000)
    write_audio(music / "#1 Hit.flac", Tags("Hit\rRemix", "Someone"), 200)
    vault = ListVault()
    vault.known[song.id] = vault_track(song)
    vault.lists["p1"] = ("Line one\nLine two", [song.id])
    app = make_app(config(music), only=ONLY, plugins=[("vault", VaultPlugin(vault))])
    with app.app_context():
        service(app).scan()
        with api.storage().connection():
            export(api.library(), service(app).standing(), music)  # the playlists beside it
    (playlist,) = [p for p in music.glob("*.m3u8") if p.name != "Liked Songs.m3u8"]
    assert playlist.read_text(encoding="utf-8").split("\n") == [
        "#EXTM3U",
        "#PLAYLIST:Line one Line two",
        "#EXTINF:200,Someone - Hit Remix",
        "./#1 Hit.flac",
        "",
    ]
    out = tmp_path / "media" / "playlists"
    with app.app_context(), api.storage().connection():
        export(api.library(), service(app).standing(), out)
    lines = (out / playlist.name).read_text(encoding="utf-8").splitlines()
    assert lines[-1] == os.path.join("..", "music", "#1 Hit.flac")  # not ../../media/...
