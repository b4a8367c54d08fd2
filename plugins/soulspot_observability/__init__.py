"""SoulSpot's built-in `observability` plugin.

JSON logs with correlation ids, health endpoints, error reports, profiles.
"""
