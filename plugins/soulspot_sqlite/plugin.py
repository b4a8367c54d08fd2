"""Hook implementations of the `sqlite` plugin (the `soulspot.plugins` entry point)."""

from __future__ import annotations

from soulspot import hookimpl
from soulspot.types import PluginManifest


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        description=("SQLite storage through peewee: migrations, sessions, audit, settings, cache.")
    )
