"""Upgrades that roll themselves back (``soulspot-upgrade``, docs/operations/upgrade.md).

Releases live side by side (``<root>/releases/<version>/``, each its own venv) and
``<root>/current`` points at the one in service. The tool installs a new release, backs up,
switches the link, restarts and watches readiness; when the new version fails it puts the
schema and the link back and starts the old one again. Everything a version must do to its
own data it does through that version's ``soulspot`` command, so the orchestration never
depends on the internals of either version.
"""
