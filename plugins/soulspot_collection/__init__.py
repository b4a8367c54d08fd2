"""SoulSpot's built-in `collection` plugin.

Scans the music folder at home, matches its files to the Spotify library vault, lists what
is missing and writes M3U8 playlists for local players.
"""
