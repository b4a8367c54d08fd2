"""The Collection pages in a real browser: the owner signs in, the library syncs from the
Web API stand-in, "Scan now" scans the music folder, and a doubtful match is accepted on the
review page with the keyboard alone."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from e2e_support import PageWatch, check_page
from playwright.sync_api import Browser
from tests.support.audio_files import Tags, write_audio
from tests.support.spotify_webapi import SpotifyWebAPI, generate_library

from conftest import Served


def test_scan_review_and_missing(
    browser: Browser, serve: Callable[..., Served], tmp_path: Path
) -> None:
    music = tmp_path / "music"
    music.mkdir()
    served = serve({"plugins": {"collection": {"music_dirs": [str(music)]}}})
    web = SpotifyWebAPI.attach(served.provider)
    web.set_library(
        "alice",
        generate_library(
            seed=3,
            playlists=2,
            items=(3, 8),
            liked=10,
            albums=1,
            artists=8,
            foreign_playlists=0,
            collaborative_playlists=0,
        ),
    )
    context = browser.new_context(base_url=served.url)
    page = context.new_page()
    page.goto("/")
    page.wait_for_url(f"{served.url}/")

    from soulspot import api
    from soulspot_library.runner import sync

    with served.app.app_context(), api.storage().connection():
        sync(sleep=lambda _s: None)
        tracks = [t for t in api.library().tracks() if t.uri.startswith("spotify:track:")]
    sure, doubtful = tracks[0], tracks[1]
    write_audio(
        music / "sure.flac",
        Tags(sure.name, sure.artists[0], sure.album),
        (sure.duration_ms or 200_000) / 1000,
    )
    # same song by its words, but 25 s shorter: an edit, or another recording? -> review
    write_audio(
        music / "doubtful.mp3",
        Tags(doubtful.name, doubtful.artists[0]),
        (doubtful.duration_ms or 200_000) / 1000 - 25,
    )

    watch = PageWatch(page)
    page.goto("/collection")
    check_page(page, watch, "collection-before-scan")
    assert "Never scanned" in page.inner_text("#last-scan")
    page.get_by_role("button", name="Scan now").click()
    page.wait_for_load_state("load")
    deadline = time.monotonic() + 30
    # the scan runs in the background: wait for its record to say it finished (a record
    # that says "running" appears first, with no file counted yet)
    while time.monotonic() < deadline and (
        "Never scanned" in page.inner_text("#last-scan")
        or ": running" in page.inner_text("#last-scan")
    ):
        page.wait_for_timeout(200)
        page.reload()
    assert ": ok" in page.inner_text("#last-scan"), page.inner_text("#last-scan")
    assert page.inner_text("#files-count") == "2"
    check_page(page, watch, "collection")

    page.goto("/collection/review")
    check_page(page, watch, "collection-review")
    assert "1 tracks need a decision" in page.inner_text("#review-total")
    with page.expect_navigation():
        page.keyboard.press("1")  # accept the first candidate
    banner = " ".join(page.locator("p.banner").all_inner_texts())
    assert "the track is now matched" in banner, banner
    assert "0 tracks need a decision" in page.inner_text("#review-total")

    page.goto("/collection/missing")
    check_page(page, watch, "collection-missing")
    missing = int(page.inner_text("#missing-total").split()[0])
    assert missing >= len({t.id for t in tracks}) - 2 > 0
    page.goto("/collection/files")
    check_page(page, watch, "collection-files")
    context.close()
