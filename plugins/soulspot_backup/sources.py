"""What a backup holds: the sources plugins contribute, and the config file as one of them."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from soulspot.api import atomic_write
from soulspot.config import secret_values
from soulspot.types import BackupSource

from .archive import BackupError

_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
CONFIG_SOURCE = "config"
DEFAULT_CONFIG_PATH = Path("config/soulspot.toml")


def registered(app: Flask, kernel: Any) -> list[BackupSource]:
    """Every backup source of the enabled plugins, in hook order. A name that is not a plain
    lower-case word, or one two plugins contribute, is an error."""
    found: list[BackupSource] = []
    names: set[str] = set()
    for group in kernel.hook.backup_sources(app=app):
        for source in group or ():
            if not _SOURCE_NAME.match(source.name):
                raise BackupError(
                    f"backup source name {source.name!r} is not a plain lower-case name"
                )
            if source.name in names:
                raise BackupError(f"two plugins contribute a backup source {source.name!r}")
            names.add(source.name)
            found.append(source)
    return found


def verify_snapshots(
    sources: list[BackupSource], root: Path, manifest: Mapping[str, Any]
) -> list[str]:
    """Each source's own check of its snapshot under ``root/<source>`` (the sources the
    ``manifest`` lists and a plugin here knows). Returns the problems, each naming its
    source; a check that raises is a problem too."""
    by_name = {s.name: s for s in sources}
    problems: list[str] = []
    for entry in manifest.get("sources") or []:
        source = by_name.get(entry.get("name"))
        src = root / str(entry.get("name"))
        if source is None or not src.is_dir():
            continue
        try:
            problems += [f"{source.name}: {p}" for p in source.verify(src)]
        except Exception as exc:
            problems.append(f"{source.name}: verification raised {type(exc).__name__}: {exc}")
    return problems


def config_path(kernel: Any) -> Path:
    """Where the config file is (or, without one, where a restored one goes)."""
    return Path(kernel.settings.path or DEFAULT_CONFIG_PATH).resolve()


def config_source(kernel: Any) -> BackupSource:
    """The config file as a backup source (sensitive when it holds a secret value)."""
    configured = kernel.settings.path
    # without a config file (defaults), a restored one goes where SoulSpot looks first
    path = config_path(kernel)
    # every configured secret, in lists and tables too (spotify's token_keys)
    secrets = secret_values(kernel.settings)

    def snapshot(dest: Path) -> None:
        if configured is not None and path.exists():  # read only: it may be read-only
            (dest / "soulspot.toml").write_bytes(path.read_bytes())

    def restore(src: Path) -> None:
        archived = src / "soulspot.toml"
        if not archived.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = 0o600
        if path.exists():
            mode = path.stat().st_mode & 0o777  # the restored file keeps the live one's mode
            shutil.copy2(path, path.with_name(path.name + ".before-restore"))
        atomic_write(path, archived.read_bytes(), mode=mode)

    def verify(src: Path) -> list[str]:
        import tomllib

        archived = src / "soulspot.toml"
        if not archived.exists():
            return []
        try:
            tomllib.loads(archived.read_text("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            return [f"config: the archived config file is not valid TOML ({exc})"]
        return []

    try:
        text = path.read_text("utf-8") if configured is not None and path.exists() else ""
    except (OSError, UnicodeDecodeError):
        text = ""
    sensitive = any(secret in text for secret in secrets)
    return BackupSource(CONFIG_SOURCE, snapshot, restore, verify, sensitive=sensitive)
