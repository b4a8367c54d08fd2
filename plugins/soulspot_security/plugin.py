"""Hook implementations of the `security` plugin (the `soulspot.plugins` entry point)."""

from __future__ import annotations

from soulspot import hookimpl
from soulspot.types import PluginManifest


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        description=("Security headers, CSP, rate limits, CORS, CSRF, audit log page.")
    )
