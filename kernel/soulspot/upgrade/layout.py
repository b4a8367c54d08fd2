"""Where releases live and which one is current.

::

    <root>/releases/<version>/   one venv per version (bin/soulspot, bin/python, ...)
    <root>/current -> releases/<version>
    <root>/bin -> current/bin    (set up once: the unit's ExecStart=/opt/soulspot/bin/soulspot)
    <root>/upgrades/<when>-<old>-to-<new>/   what each upgrade recorded (backup id, schema, log)

The link is switched atomically (a new symlink renamed over the old one), so at every moment
``current`` names a complete release.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import ConfigError

# PEP 427: {distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl
_WHEEL = re.compile(
    r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$"
)
_SAFE_VERSION = re.compile(r"^[0-9][0-9A-Za-z.+!_]*$")


@dataclass(frozen=True)
class Release:
    version: str
    path: Path

    @property
    def soulspot(self) -> Path:
        return self.path / "bin" / "soulspot"

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def wheel_version(wheel: Path) -> str:
    """The SoulSpot version a wheel file carries, from its name (PEP 427)."""
    match = _WHEEL.match(wheel.name)
    if match is None or match["name"].lower().replace(".", "_") != "soulspot":
        raise ConfigError(
            f"{wheel}: not a SoulSpot wheel file name (expected "
            "soulspot-<version>-py3-none-any.whl)"
        )
    if not wheel.is_file():
        raise ConfigError(f"{wheel}: no such file")
    return check_version(match["version"])


def check_version(version: str) -> str:
    if not _SAFE_VERSION.match(version):
        raise ConfigError(f"version {version!r}: expected something like 1.2.3")
    return version


class Layout:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.releases = root / "releases"
        self.current_link = root / "current"
        self.records = root / "upgrades"

    def release(self, version: str) -> Release:
        return Release(check_version(version), self.releases / version)

    def current(self) -> Release:
        """The release ``current`` points at; a clear error when there is none."""
        if not self.current_link.is_symlink():
            raise ConfigError(
                f"{self.current_link} is not a link to a release: set up the side-by-side "
                "layout first (docs/operations/upgrade.md, 'First release')"
            )
        target = Path(os.readlink(self.current_link))
        path = target if target.is_absolute() else self.root / target
        if path.parent.resolve() != self.releases.resolve() or not (path / "bin").is_dir():
            raise ConfigError(
                f"{self.current_link} points at {target}, which is not a release under "
                f"{self.releases}"
            )
        return Release(path.name, path)

    def switch(self, release: Release) -> None:
        """Point ``current`` at ``release`` in one rename."""
        tmp = self.root / f".current-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(release.path.relative_to(self.root))
        os.replace(tmp, self.current_link)

    def new_record(self, old: str, new: str, now: dt.datetime) -> Path:
        folder = self.records / f"{now.strftime('%Y%m%dT%H%M%SZ')}-{old}-to-{new}"
        folder.mkdir(parents=True, exist_ok=False)
        return folder

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One upgrade at a time per root."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".upgrade.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise ConfigError(
                    f"another soulspot-upgrade is running on {self.root}; wait for it"
                ) from None
            yield
        finally:
            os.close(fd)
