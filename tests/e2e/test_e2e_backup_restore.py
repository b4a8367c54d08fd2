"""Restore from the Backups page in a real browser: the restore button stays disabled until
the owner types the confirmation word (kernel JS helper, no inline script), then the restore
runs and the page says so."""

from __future__ import annotations

from collections.abc import Callable

from e2e_support import PageWatch, check_page
from playwright.sync_api import Browser

from conftest import Served


def test_restore_needs_the_typed_confirmation(
    browser: Browser, serve: Callable[..., Served]
) -> None:
    served = serve()
    context = browser.new_context(base_url=served.url)
    page = context.new_page()
    page.goto("/")
    page.wait_for_url(f"{served.url}/")
    watch = PageWatch(page)
    page.goto("/backups")
    page.get_by_role("button", name="Create backup now").click()
    page.wait_for_load_state("load")
    row = page.locator("main table tbody tr").first
    row.locator("summary").click()
    restore = row.get_by_role("button", name="Restore")
    assert restore.is_disabled()
    field = row.get_by_label("Type restore to confirm")
    field.fill("restor")
    assert restore.is_disabled()
    field.fill("restore")
    assert restore.is_enabled()
    check_page(page, watch, "backup-restore-confirm")
    restore.click()
    page.wait_for_load_state("load")
    banner = page.locator("p.banner").all_inner_texts()
    assert any("restored" in text for text in banner), banner
    assert "pre-restore" in page.locator("main table tbody").inner_text()
    context.close()
