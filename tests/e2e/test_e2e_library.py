"""The Library pages in a real browser, against the Web API stand-in: sign in, Sync now with
its progress line, every library page clean (no console errors or CSP violations, controls
labelled and reachable), search, a playlist's versions and diff, the zip export."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from e2e_support import PageWatch, check_page
from playwright.sync_api import Browser, Page
from playwright.sync_api import Error as PlaywrightError

from conftest import Served
from support.spotify_webapi import SpotifyWebAPI, generate_library


def _wait_for_ok(page: Page, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        status = page.locator("#last-run-status")
        if status.count() and status.inner_text() == "ok":
            return
        page.wait_for_timeout(300)  # the page refreshes itself while a sync runs
        if not page.locator("#progress").count():
            try:
                page.reload()
            except PlaywrightError:  # the page's own refresh navigated at the same moment
                continue
    raise AssertionError(page.locator("main").inner_text())


def test_the_library_pages(browser: Browser, serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve()
    web = SpotifyWebAPI.attach(served.provider)
    lib = generate_library(
        seed=11,
        playlists=5,
        items=(3, 60),
        liked=70,
        albums=4,
        artists=12,
        owner_id="alice",
        foreign_playlists=1,
        collaborative_playlists=1,
    )
    web.set_library("alice", lib)
    context = browser.new_context(base_url=served.url, accept_downloads=True)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto("/")
    page.wait_for_url(f"{served.url}/")
    page.locator("header nav").get_by_role("link", name="Library", exact=True).click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == "Library"
    page.get_by_role("button", name="Sync now").click()
    page.wait_for_load_state("load")
    _wait_for_ok(page)
    assert "Liked songs" in page.locator("main").inner_text()
    check_page(page, watch, "library-overview")

    for label, name in (
        ("Playlists", "library-playlists"),
        ("Liked songs", "library-liked"),
        ("Albums", "library-albums"),
        ("Artists", "library-artists"),
        ("Changes", "library-changes"),
    ):
        page.locator("nav.subnav").get_by_role("link", name=label, exact=True).click()
        page.wait_for_load_state("load")
        check_page(page, watch, name)

    # search the liked songs
    page.goto("/library/liked")
    wanted = lib.liked[3][0].name
    page.get_by_label("Search").fill(wanted)
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state("load")
    assert wanted in page.locator("main table").inner_text()
    link = page.locator("main table a", has_text=wanted).first
    assert (link.get_attribute("href") or "").startswith("https://open.spotify.com/track/")

    # a playlist changes on Spotify; its page shows two versions and their diff
    playlist = next(p for p in lib.playlists if p.owner_id == "alice" and len(p.entries) > 2)
    gone = playlist.entries[0].item
    assert gone is not None
    lib.remove_item(playlist.id, 0)
    page.goto("/library")
    page.get_by_role("button", name="Sync now").click()
    page.wait_for_load_state("load")
    _wait_for_ok(page)
    page.goto(f"/library/playlists/{playlist.id}")
    options = page.locator("#from option").all_inner_texts()
    assert len(options) == 2, options
    page.locator("#from").select_option(options[-1])  # the older one
    page.get_by_role("button", name="Diff").click()
    page.wait_for_load_state("load")
    assert (
        "- 0: " in page.locator("#diff").inner_text()
        and gone.name in page.locator("#diff").inner_text()
    )
    check_page(page, watch, "library-playlist-diff")

    # export as a zip
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV").first.click()
    saved = tmp_path / "export.zip"
    info.value.save_as(saved)
    names = zipfile.ZipFile(io.BytesIO(saved.read_bytes())).namelist()
    assert "Liked Songs.csv" in names
    context.close()
