"""Shared test configuration: the kernel's test helpers are a pytest plugin."""

pytest_plugins = ["soulspot.testing"]
