"""SoulSpot's built-in `backup` plugin.

Scheduled, verified online backups and atomic restore.
"""
