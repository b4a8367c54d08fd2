"""Issue 19 in a real browser, on one server: every page in the navigation fits a 390 px
phone screen (nothing scrolls sideways), the Settings page masks secrets and names origins,
the API documentation renders under the CSP, and an uploaded archive restores — a tampered
one is refused with a clear message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from e2e_support import PageWatch
from playwright.sync_api import Browser, Page

from conftest import Served

PHONE = {"width": 390, "height": 844}
SECRET = "metrics-token-e2e-1234"


def _fits(page: Page) -> tuple[int, int]:
    return page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )


def _upload(page: Page, archive: Path, name: str) -> list[str]:
    page.goto("/backups")
    form = page.locator("form[action='/backups/upload']")
    form.get_by_label("Archive file").set_input_files(
        {"name": name, "mimeType": "application/x-tar", "buffer": archive.read_bytes()}
    )
    form.get_by_label("Type restore to confirm").fill("restore")
    form.get_by_role("button", name="Upload and restore").click()
    page.wait_for_load_state("load")
    return page.locator("p.banner").all_inner_texts()


def test_phone_width_settings_api_docs_and_upload(
    browser: Browser, serve: Callable[..., Served], tmp_path: Path
) -> None:
    served = serve({"plugins": {"metrics": {"token": SECRET}}})
    context = browser.new_context(base_url=served.url, viewport=PHONE)
    page = context.new_page()
    page.goto("/")
    page.wait_for_url(f"{served.url}/")
    watch = PageWatch(page)

    # A backup, so the Backups table has a row to lay out.
    page.goto("/backups")
    page.get_by_role("button", name="Create backup now").click()
    page.wait_for_load_state("load")
    links = page.eval_on_selector_all("header nav a[href]", "els => els.map(e => e.href)")
    assert f"{served.url}/settings" in links and f"{served.url}/api-docs" in links, links
    # Pages one click further in, with tables of their own.
    deeper = ["/library/playlists", "/library/albums", "/library/changes", "/collection/files"]
    too_wide = {}
    for href in [*links, *(served.url + path for path in deeper)]:
        response = page.goto(href)
        assert response is not None and response.ok, href
        width, viewport = _fits(page)
        if width > viewport:
            too_wide[href] = width
    assert not too_wide, f"pages wider than {PHONE['width']} px: {too_wide}"

    # Settings: the configured metrics token is masked, each value says where it comes from.
    page.goto("/settings")
    main = page.locator("main").inner_text()
    assert SECRET not in page.content()
    row = page.locator("#cfg-plugins-metrics tr", has=page.locator("th code", has_text="token"))
    assert "********" in row.inner_text() and "override" in row.inner_text(), row.inner_text()
    assert "default" in main and "[kernel]" in main

    # API docs: every path of the document, no CSP violation or console error.
    spec = page.request.get("/api/openapi.json").json()
    page.goto("/api-docs")
    rendered = page.locator("code.op-path").all_inner_texts()
    assert set(spec["paths"]) <= set(rendered), set(spec["paths"]) - set(rendered)
    assert watch.take() == []  # the nav page test checks labels and Tab order

    # Upload: this install's own archive restores; a tampered copy is refused, clearly.
    backups = sorted((served.data_dir / "backups").glob("soulspot-*.tar*"))
    archive = backups[-1]
    banners = _upload(page, archive, archive.name)
    assert any("was restored" in b for b in banners), banners
    tampered = tmp_path / archive.name
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    banners = _upload(page, tampered, archive.name)
    refusal = [b for b in banners if b.startswith("Not restored")]
    assert refusal and "damaged" in refusal[0] and "--" not in refusal[0], banners
    assert watch.take() == []
    context.close()
