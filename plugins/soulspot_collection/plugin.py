"""Hook implementations of the `collection` plugin (the `soulspot.plugins` entry point).

Import-light: the scanner, matcher, Flask views and click commands live in sibling modules
imported inside the hooks (``soulspot --help`` loads this module).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from soulspot import hookimpl
from soulspot.types import Migration, PluginManifest

if TYPE_CHECKING:  # pragma: no cover
    pass


@hookimpl
def manifest() -> PluginManifest:
    return PluginManifest(
        provides=(),
        requires=("storage",),
        config_model="soulspot_collection.config:CollectionConfig",
        description=(
            "Your music folder: tag scan, matches to the Spotify vault, what is missing, M3U8 "
            "playlists."
        ),
    )


@hookimpl
def migrations() -> Iterable[Migration]:
    from .models import migrations as plugin_migrations

    return plugin_migrations()
