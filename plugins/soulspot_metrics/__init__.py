"""SoulSpot's built-in `metrics` plugin.

Prometheus metrics at /metrics.
"""
