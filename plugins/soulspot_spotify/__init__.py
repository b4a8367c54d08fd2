"""SoulSpot's built-in `spotify` plugin.

Spotify sign-in (OAuth 2.0 PKCE), sessions, encrypted tokens, owner lock.
"""
