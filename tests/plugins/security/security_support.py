"""Shared checks for the security plugin's tests."""

from __future__ import annotations

import re
from typing import Any

#: Plugins that answer HTTP in these tests: auth off (loopback), so no sign-in is needed.
NO_AUTH = ["spotify", "library", "collection"]  # the library needs the auth concern

NONCE = re.compile(r"'nonce-([A-Za-z0-9_\-]{16,})'")


def csp_directives(value: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_security_headers(resp: Any, *, https: bool = False, where: str = "") -> None:
    """The header set every response must carry (``where`` names the request on failure)."""
    h = resp.headers
    label = f"{where} -> {resp.status_code}"
    csp = h.get("Content-Security-Policy")
    assert csp, f"no CSP on {label}"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, label
    d = csp_directives(csp)
    assert d["default-src"] == ["'self'"], label
    assert d["object-src"] == ["'none'"], label
    assert d["base-uri"] == ["'self'"], label
    assert d["frame-ancestors"] == ["'none'"], label
    script = d["script-src"]
    assert all(s == "'report-sample'" or NONCE.fullmatch(s) for s in script), label
    # a page needs its nonce; an empty answer (OPTIONS, a redirect) runs no script
    if resp.mimetype == "text/html" and resp.get_data() and not 300 <= resp.status_code < 400:
        assert any(NONCE.fullmatch(s) for s in script), f"no nonce in script-src on {label}"
    assert "report-uri" in d, label
    assert h.get("X-Content-Type-Options") == "nosniff", label
    assert h.get("X-Frame-Options") == "DENY", label
    assert h.get("Referrer-Policy") == "same-origin", label
    assert "camera=()" in (h.get("Permissions-Policy") or ""), label
    assert h.get("Cross-Origin-Opener-Policy") == "same-origin", label
    if https:
        assert (h.get("Strict-Transport-Security") or "").startswith("max-age="), label
    else:
        assert "Strict-Transport-Security" not in h, f"HSTS on plain http: {label}"


def nonce_of(resp: Any) -> str:
    match = NONCE.search(resp.headers["Content-Security-Policy"])
    assert match
    return match.group(1)
