"""SoulSpot's built-in `sqlite` plugin.

SQLite storage through peewee: migrations, sessions, audit, settings, cache.
"""
