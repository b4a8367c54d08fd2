"""Browser-test helpers: Debian's chromium driven by Playwright (no browser download), and the
checks every page must pass — no console errors, no CSP violations, every control labelled
and reachable with the keyboard — plus a screenshot of each page for people to look at."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Playwright) -> Browser:
    assert Path(CHROMIUM).exists(), "chromium missing: run scripts/install-system-deps.sh"
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# Reports CSP violations to the test (Playwright's binding is not subject to the page's CSP).
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__soulspotCsp({directive: e.violatedDirective, blocked: e.blockedURI,
                        source: e.sourceFile, line: e.lineNumber, sample: e.sample});
});
"""


@dataclass
class PageWatch:
    """Collects what a page must never produce: console errors, uncaught exceptions, CSP
    violations. Attach once per page; ``take()`` returns and clears what was seen."""

    page: Page
    errors: list[str] = field(default_factory=list)
    #: URLs a test navigates to expecting an error status (the browser logs those loads).
    expected_failures: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.expose_function(
            "__soulspotCsp", lambda v: self.errors.append(f"CSP violation: {v}")
        )
        self.page.add_init_script(_CSP_LISTENER)

    def _console(self, msg: ConsoleMessage) -> None:
        if (
            msg.text.startswith("Failed to load resource")
            and msg.location.get("url") in self.expected_failures
        ):
            return
        if msg.type in ("error", "assert"):
            self.errors.append(f"console {msg.type}: {msg.text} @ {msg.location}")
        elif "Content Security Policy" in msg.text:
            self.errors.append(f"console {msg.type}: {msg.text}")

    def take(self) -> list[str]:
        seen, self.errors = self.errors, []
        return seen


# Marks every visible control and reports how people and assistive tech see it.
_CONTROLS = r"""
() => {
  const name = (el) => {
    const aria = el.getAttribute("aria-label");
    if (aria && aria.trim()) return aria.trim();
    const by = el.getAttribute("aria-labelledby");
    if (by) {
      const t = by.split(/\s+/).map((id) => document.getElementById(id))
        .filter(Boolean).map((n) => n.textContent.trim()).join(" ").trim();
      if (t) return t;
    }
    if (el.labels && el.labels.length) {
      const t = Array.from(el.labels).map((l) => l.textContent.trim()).join(" ").trim();
      if (t) return t;
    }
    const tag = el.tagName.toLowerCase();
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (tag === "a" || tag === "button" || tag === "summary") {
      const t = (el.innerText || el.textContent || "").trim();
      if (t) return t;
      const img = el.querySelector("img[alt]");
      if (img && img.alt.trim()) return img.alt.trim();
    }
    if (tag === "input" && ["submit", "button", "reset"].includes(type) && el.value) {
      return el.value;
    }
    const title = el.getAttribute("title");
    return title && title.trim() ? title.trim() : "";
  };
  const visible = (el) => {
    if (!el.checkVisibility({visibilityProperty: true})) return false;  // closed <details>
    if (!el.getClientRects().length) return false;
    const s = getComputedStyle(el);
    return s.visibility !== "hidden" && s.display !== "none";
  };
  const sel = "a[href], button, input:not([type=hidden]), select, textarea, summary";
  const out = [];
  document.querySelectorAll(sel).forEach((el, i) => {
    if (!visible(el)) return;
    el.setAttribute("data-e2e-idx", String(i));
    out.push({idx: String(i), tag: el.tagName.toLowerCase(), name: name(el),
              disabled: !!el.disabled, tabindex: el.tabIndex,
              html: el.outerHTML.slice(0, 160)});
  });
  return out;
}
"""


def check_controls(page: Page) -> list[str]:
    """Every visible control has an accessible name and is reached by pressing Tab."""
    problems: list[str] = []
    controls: list[dict[str, Any]] = page.evaluate(_CONTROLS)
    for c in controls:
        if not c["name"]:
            problems.append(f"no accessible name: {c['html']}")
    wanted = {c["idx"] for c in controls if not c["disabled"]}
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    page.evaluate("() => window.focus()")
    reached: set[str] = set()
    # Start from the top of the document, then Tab through everything once.
    page.evaluate(
        "() => { const t = document.createElement('span'); t.tabIndex = -1; t.id = 'e2e-start';"
        " document.body.prepend(t); t.focus(); }"
    )
    # A date input takes several Tab stops (day, month, year) on the same element: only a
    # *different* element seen before means focus went round the whole page.
    step = """() => {
      const el = document.activeElement;
      if (!el || el === document.body || el.id === "e2e-start") return {end: true};
      const same = window.__e2eLast === el;
      window.__e2eLast = el;
      const seen = !same && el.hasAttribute("data-e2e-seen");
      el.setAttribute("data-e2e-seen", "1");
      return {end: false, seen, idx: el.getAttribute("data-e2e-idx")};
    }"""
    for _ in range(4 * len(controls) + 20):
        page.keyboard.press("Tab")
        state = page.evaluate(step)
        if state["end"] or state["seen"]:
            break
        if state["idx"] is not None:
            reached.add(state["idx"])
    page.evaluate(
        "() => { const t = document.getElementById('e2e-start'); t && t.remove();"
        " document.querySelectorAll('[data-e2e-seen]').forEach("
        "(el) => el.removeAttribute('data-e2e-seen')); }"
    )
    for c in controls:
        if c["idx"] in wanted and c["idx"] not in reached:
            problems.append(f"not reachable with Tab: {c['html']}")
    return problems


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def check_page(page: Page, watch: PageWatch, name: str) -> None:
    """The checks every page must pass; saves ``test-artifacts/screenshots/<name>.png``."""
    page.wait_for_load_state("load")
    screenshot(page, name)
    problems = [*watch.take(), *check_controls(page)]
    # Controls inside collapsed <details> count too: open them all and check again.
    if page.evaluate(
        "() => { const d = document.querySelectorAll('details:not([open])');"
        " d.forEach((el) => { el.open = true; }); return d.length; }"
    ):
        problems += [f"(details opened) {p}" for p in check_controls(page)]
        screenshot(page, f"{name}-details-open")
    assert not problems, f"{name} ({page.url}):\n  " + "\n  ".join(problems)
