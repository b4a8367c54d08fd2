"""soulspot-hello: an example SoulSpot plugin (see README.md)."""

__version__ = "0.1.0"
