"""The page checks themselves can fail: a CSP violation, a console error, an unlabelled
control and one that Tab never reaches are each reported (so "zero problems" on the real
pages means something)."""

from __future__ import annotations

from e2e_support import PageWatch, check_controls
from playwright.sync_api import Browser, Route

BAD_PAGE = """<!doctype html><html lang="en"><head><title>bad</title></head><body>
<script>console.error("boom")</script>
<button></button>
<a href="/x" tabindex="-1">unreachable</a>
<label for="ok">Name</label><input id="ok">
</body></html>"""


def test_checks_catch_violations_errors_and_inaccessible_controls(browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    watch = PageWatch(page)

    def fulfil(route: Route) -> None:
        route.fulfill(
            status=200,
            headers={"Content-Security-Policy": "script-src 'self'"},
            content_type="text/html",
            body=BAD_PAGE,
        )

    page.route("http://127.0.0.1:9/bad", fulfil)
    page.goto("http://127.0.0.1:9/bad")
    page.wait_for_load_state("load")
    seen = watch.take()
    assert any("CSP violation" in s for s in seen), seen
    problems = check_controls(page)
    assert any("no accessible name" in p and "<button" in p for p in problems), problems
    assert any("not reachable with Tab" in p and "unreachable" in p for p in problems), problems
    assert not any('id="ok"' in p for p in problems), problems
    # With the inline script allowed, its console.error is caught too.
    page.unroute("http://127.0.0.1:9/bad")
    page.route(
        "http://127.0.0.1:9/bad",
        lambda route: route.fulfill(status=200, content_type="text/html", body=BAD_PAGE),
    )
    page.goto("http://127.0.0.1:9/bad")
    page.wait_for_load_state("load")
    assert any("boom" in s for s in watch.take())
    context.close()
