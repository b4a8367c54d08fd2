"""Backup errors worded for the Backups page.

The service words its errors for the command line (``--passphrase``, ``--force-unsigned``,
``soulspot backup list``): right in a terminal, wrong in a browser, where the owner acts
through the page's own controls. This module rewrites those hints into what to do on the
page; the CLI keeps the service's wording. Each pattern is exercised by a test that reads the
page, so a changed service message shows up there rather than as CLI advice in the browser.
"""

from __future__ import annotations

import re

#: (pattern, replacement) pairs, applied in order.
_WEB_WORDING: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\s*\(see `soulspot backup list`\)"), ""),
    (re.compile(r",\s*see `soulspot backup list`\)"), ")"),
    (
        re.compile(r"give its passphrase \(--passphrase or SOULSPOT_BACKUP_PASSPHRASE\)"),
        "type its passphrase in the passphrase box next to the button",
    ),
    (
        re.compile(
            r"If you trust this copy, restore it with --force-unsigned \(see docs/backup\.md\)\."
        ),
        "If you trust this copy, upload it again with \u201cRestore even though it cannot be "
        "authenticated\u201d ticked.",
    ),
    (re.compile(r"\(--force-unsigned\)"), "(accepted unauthenticated, as asked)"),
    (
        re.compile(r"by hand \(soulspot backup restore (\S+) --yes\)"),
        r"by hand: restore \1 from this page",
    ),
    (re.compile(r"\(--skip-config\)"), "(left out, as asked)"),
)


def for_web(message: str, *, uploaded: tuple[str, str] | None = None) -> str:
    """``message`` with command-line advice replaced by what to do on the Backups page.

    :param uploaded: ``(staged path, file name)`` of an uploaded archive: the page names the
        file the owner chose, not where SoulSpot staged it.
    """
    for pattern, replacement in _WEB_WORDING:
        message = pattern.sub(replacement, message)
    if uploaded is not None:
        staged, name = uploaded
        message = message.replace(staged, f"the uploaded archive {name!r}")
    return message


__all__ = ["for_web"]
