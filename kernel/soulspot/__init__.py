"""SoulSpot: a small plugin micro-kernel that connects Spotify to your music library at home.

The kernel defines hook specifications (:mod:`soulspot.hookspecs`), loads plugins from the
``soulspot.plugins`` entry-point group (:mod:`soulspot.plugins`) and builds the Flask app
(:func:`create_app`). Everything else is a plugin.

This module stays import-light on purpose: ``soulspot --help`` must start fast, so Flask and
friends are imported only when an app is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

__version__ = "0.1.0"

#: Marker for plugin hook implementations: ``@hookimpl def startup(app): ...``
hookimpl = pluggy.HookimplMarker("soulspot")

if TYPE_CHECKING:  # pragma: no cover
    from .app import create_app as create_app

__all__ = ["__version__", "create_app", "hookimpl"]


def __getattr__(name: str) -> Any:
    # ``from soulspot import create_app`` (and ``flask --app soulspot``) without paying for
    # Flask's import on every ``soulspot --help``.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'soulspot' has no attribute {name!r}")
