"""The "API tokens" page in a real browser: the signed-in owner creates a write token, copies
it once, a script uses it, the owner revokes it. The page passes the checks every page does
(console, CSP, labels, keyboard) with the new token shown."""

from __future__ import annotations

from collections.abc import Callable

import requests
from e2e_support import PageWatch, check_page
from playwright.sync_api import Browser

from conftest import Served


def test_owner_creates_uses_and_revokes_a_token(
    browser: Browser, serve: Callable[..., Served]
) -> None:
    served = serve()
    context = browser.new_context(base_url=served.url)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto("/")  # sign-in through the provider (auto-approve)
    page.wait_for_url(f"{served.url}/")
    page.locator("header nav").get_by_role("link", name="API tokens", exact=True).click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == "API tokens"
    page.get_by_role("textbox", name="Name", exact=True).fill("home assistant")
    page.get_by_role("combobox", name="Scope", exact=True).select_option("write")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_load_state("load")
    token = page.get_by_role("textbox", name="Token", exact=True).input_value()
    assert token.startswith("ssp_")
    check_page(page, watch, "api-tokens-created")

    api = served.url + "/api/plugins"
    used = requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert used.status_code == 200 and used.headers["Cache-Control"] == "no-store"
    page.goto("/security/tokens")  # the page again: the token is not shown again
    assert token not in page.content()
    assert "home assistant" in page.locator("table").inner_text()

    page.get_by_role("button", name="Revoke the token home assistant").click()
    page.wait_for_load_state("load")
    assert "No API tokens yet" in page.locator("table").inner_text()
    gone = requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert gone.status_code == 401
    context.close()
