"""Hook implementations of the `metrics` plugin (the `soulspot.plugins` entry point)."""

from __future__ import annotations

from soulspot import hookimpl
from soulspot.types import PluginManifest


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(description="Prometheus metrics at /metrics.")
