"""Exceptions the CLI turns into messages. Import-light (no pydantic): the plugin loader
needs :class:`ConfigError` on every ``soulspot --help``."""

from __future__ import annotations


class ConfigError(Exception):
    """Bad configuration: the message is meant for the person who wrote it."""
