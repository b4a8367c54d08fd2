"""Hook implementations of the `spotify` plugin (the `soulspot.plugins` entry point)."""

from __future__ import annotations

from soulspot import hookimpl
from soulspot.types import PluginManifest


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        description=("Spotify sign-in (OAuth 2.0 PKCE), sessions, encrypted tokens, owner lock.")
    )
