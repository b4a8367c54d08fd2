"""Hook implementations of the `observability` plugin (the `soulspot.plugins` entry point)."""

from __future__ import annotations

from soulspot import hookimpl
from soulspot.types import PluginManifest


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        description=("JSON logs with correlation ids, health endpoints, error reports, profiles.")
    )
