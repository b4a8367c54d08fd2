"""The owner's journey in a real browser: sign in through the local OAuth provider →
dashboard → sessions (revoke another browser's session) → backups (create, download) →
audit → health → sign out. Every page is checked (console, CSP, labels, keyboard) and
screenshotted into test-artifacts/screenshots/journey-*.png."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path

from e2e_support import PageWatch, check_page
from playwright.sync_api import Browser, BrowserContext, Page

from conftest import Served

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 {}"


def signed_in(browser: Browser, served: Served, tag: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(
        base_url=served.url, user_agent=UA.format(tag), accept_downloads=True
    )
    page = context.new_page()
    page.goto("/")  # login gate -> provider (auto-approve) -> callback -> dashboard
    page.wait_for_url(f"{served.url}/")
    return context, page


def nav(page: Page, label: str) -> None:
    page.locator("header nav").get_by_role("link", name=label, exact=True).click()
    page.wait_for_load_state("load")


def audit_events(served: Served, event: str) -> int:
    from soulspot.api import storage

    with served.app.app_context(), storage().connection():
        return storage().audit.count(event=event)


def test_owner_journey(browser: Browser, serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve()
    ctx_a, page = signed_in(browser, served, "SoulSpotE2E-A")
    watch = PageWatch(page)
    page.reload()

    # Dashboard: who is signed in, Spotify state, health, backup, audit, plugins.
    assert page.locator("h1").inner_text() == "Dashboard"
    assert "Alice Owner" in page.locator("header .who").inner_text()
    titles = page.locator("main section.panel h2").all_inner_texts()
    for wanted in ("Health", "Spotify", "Last verified backup", "Recent audit events", "Plugins"):
        assert wanted in titles, f"dashboard lacks the {wanted!r} panel: {titles}"
    spotify = page.locator("section.panel", has_text="Spotify").first.inner_text()
    assert "Signed in as Alice Owner" in spotify and "Re-authorise within" in spotify
    assert "plugins enabled" in page.locator("section.panel", has_text="Plugins").inner_text()
    check_page(page, watch, "journey-01-dashboard")

    # A second browser signs in too; the first one revokes it on the Sessions page.
    ctx_b, _page_b = signed_in(browser, served, "SoulSpotE2E-B")
    assert ctx_b.request.get(f"{served.url}/api/plugins").status == 200
    nav(page, "Sessions")
    rows = page.locator("main table tbody tr")
    assert rows.count() == 2
    check_page(page, watch, "journey-02-sessions")
    other = rows.filter(has_text="SoulSpotE2E-B")
    other.get_by_role("button", name="Revoke").click() if other.get_by_role(
        "button", name="Revoke"
    ).count() else other.locator("button").click()
    page.wait_for_load_state("load")
    assert page.locator("main table tbody tr").count() == 1
    assert "SoulSpotE2E-A" in page.locator("main table tbody").inner_text()
    check_page(page, watch, "journey-03-sessions-revoked")
    refused = ctx_b.request.get(f"{served.url}/api/plugins", max_redirects=0)
    assert refused.status == 401, refused.status
    assert audit_events(served, "auth.session_revoked") == 1
    ctx_b.close()

    # Backups: create one, then download it.
    nav(page, "Backups")
    page.get_by_role("button", name="Create backup now").click()
    page.wait_for_load_state("load")
    body = page.locator("main table tbody")
    assert "No backups yet" not in body.inner_text()
    assert "manual" in body.inner_text()
    check_page(page, watch, "journey-04-backups")
    with page.expect_download() as info:
        page.locator("main table tbody a", has_text="Download").first.click()
    download = info.value
    saved = tmp_path / (download.suggested_filename or "backup")
    download.save_as(saved)
    assert saved.stat().st_size > 0
    assert tarfile.is_tarfile(saved), f"{saved.name} is not a tar archive"
    with tarfile.open(saved) as archive:
        names = archive.getnames()
    assert any("manifest" in n for n in names), names
    assert audit_events(served, "backup.created") == 1

    # The dashboard now knows the last verified backup.
    nav(page, "Dashboard")
    panel = page.locator("section.panel", has_text="Last verified backup").inner_text()
    assert "No verified backup yet" not in panel
    check_page(page, watch, "journey-05-dashboard-after-backup")

    # Audit: the journey so far is on record.
    nav(page, "Audit")
    table = page.locator("main table").first.inner_text()
    for event in ("auth.sign_in", "auth.session_revoked", "backup.created"):
        assert event in table, f"{event} missing from the audit page"
    check_page(page, watch, "journey-06-audit")

    # Health.
    nav(page, "Health")
    assert page.locator("h1").inner_text() == "Health"
    check_page(page, watch, "journey-07-health")

    # Plugins.
    nav(page, "Plugins")
    check_page(page, watch, "journey-08-plugins")

    # Sign out: the session is gone server-side.
    page.locator("header nav").get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == "Signed out"
    check_page(page, watch, "journey-09-signed-out")
    assert ctx_a.request.get(f"{served.url}/api/plugins", max_redirects=0).status == 401
    assert audit_events(served, "auth.sign_out") == 1
    ctx_a.close()
