"""The ``library`` plugin: a versioned vault of the owner's Spotify library (see
docs/library.md)."""
