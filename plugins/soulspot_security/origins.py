"""Origins in config: exact ones, and the one wildcard form CORS accepts.

flask-cors treats any string with a regex-looking character (``*``, ``?``, ``[``, ``$``...)
as a regular expression and matches it from the start only, so ``https://*`` or
``https://app.example.org.*`` would allow every https origin (``https://evil.example``),
with credentials when ``cors_allow_credentials`` is on. Here config accepts

- an exact origin, ``scheme://host[:port]`` (compared as a string, never as a regex), or
- for ``cors_origins`` only, a subdomain wildcard ``scheme://*.example.org[:port]``: ``*``
  is one or more whole DNS labels in front of a fixed parent domain of at least two labels.
  It becomes an anchored pattern (:func:`cors_patterns`), so it matches
  ``https://a.example.org`` and ``https://a.b.example.org`` but never ``https://example.org``,
  ``https://evil-example.org`` or ``https://a.example.org.evil.example``.

Anything else (a bare ``*``, a regex, a path, a wildcard in the middle) is a config error.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

#: One DNS label (RFC 1123): letters, digits and inner hyphens, at most 63 characters.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LABEL_RE = re.compile(rf"^{_LABEL}$")
_WILDCARD_PREFIX = "*."
EXPECTED = (
    "expected an exact origin like 'https://app.example.org' (scheme, host, optional port; "
    "no path, no regex), or a subdomain wildcard like 'https://*.example.org'"
)
EXPECTED_EXACT = (
    "expected an exact origin like 'https://app.example.org' (scheme, host, optional port; "
    "no path, no wildcard, no regex)"
)


def _split(value: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of an origin, or ``ValueError``."""
    value = value.strip().rstrip("/")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError(EXPECTED) from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
        or parts.password is not None
    ):
        raise ValueError(EXPECTED)
    return parts.scheme, parts.hostname.lower(), port


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _origin(scheme: str, host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" if port is None else f"{scheme}://{shown}:{port}"


def check_exact(value: str) -> str:
    """An exact origin, normalised (lower case, no trailing slash); ``ValueError`` else."""
    scheme, host, port = _split(value)
    if not (_is_ip(host) or all(_LABEL_RE.match(label) for label in host.split("."))):
        raise ValueError(EXPECTED_EXACT)
    return _origin(scheme, host, port)


def check_cors(value: str) -> str:
    """An exact origin or the subdomain wildcard form, normalised; ``ValueError`` else."""
    text = value.strip()
    scheme_end = text.find("://")
    if scheme_end > 0 and text[scheme_end + 3 :].startswith(_WILDCARD_PREFIX):
        rest = text[: scheme_end + 3] + text[scheme_end + 3 + len(_WILDCARD_PREFIX) :]
        scheme, parent, port = _split(rest)
        labels = parent.split(".")
        if len(labels) < 2 or _is_ip(parent) or not all(_LABEL_RE.match(x) for x in labels):
            raise ValueError(
                f"{EXPECTED}; the wildcard stands for whole subdomains of a domain with at "
                "least two labels (https://*.example.org, not https://*.org)"
            )
        return _origin(scheme, _WILDCARD_PREFIX + parent, port)
    try:
        return check_exact(text)
    except ValueError:
        raise ValueError(EXPECTED) from None


def cors_patterns(origins: list[str]) -> list[str | re.Pattern[str]]:
    """What flask-cors gets for validated ``cors_origins``: exact origins as plain strings
    (flask-cors compares those literally), wildcard ones as compiled patterns anchored at
    both ends. An IPv6 origin (``http://[::1]:8080``) holds brackets, which flask-cors would
    read as a regex: it is given as an escaped, anchored pattern instead."""
    out: list[str | re.Pattern[str]] = []
    for origin in origins:
        scheme, _, rest = origin.partition("://")
        if not rest.startswith(_WILDCARD_PREFIX):
            if "[" in origin:
                out.append(re.compile(rf"^{re.escape(origin)}\Z", re.IGNORECASE))
            else:
                out.append(origin)
            continue
        host, _, port = rest[len(_WILDCARD_PREFIX) :].partition(":")
        suffix = re.escape(host) + (re.escape(":" + port) if port else "")
        out.append(re.compile(rf"^{re.escape(scheme)}://(?:{_LABEL}\.)+{suffix}\Z", re.IGNORECASE))
    return out
