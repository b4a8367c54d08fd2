"""``soulspot.api.atomic_write``: the one way plugins replace a file.

The crash test kills a real process in the middle of its write (``RLIMIT_FSIZE``: the kernel
sends ``SIGXFSZ`` when the write crosses the limit), so nothing of the helper runs after.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from soulspot.api import atomic_write

OLD = b"the old content\n"
#: A child that writes 1 MiB to the file named by argv[1] with a 64 KiB file-size limit.
CHILD = """
import resource, signal, sys
from soulspot.files import atomic_write  # what soulspot.api exports, without Flask
# Python ignores SIGXFSZ (the write then fails with EFBIG); by default the signal kills
signal.signal(signal.SIGXFSZ, signal.SIG_IGN if sys.argv[2] == "ignore" else signal.SIG_DFL)
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
try:
    atomic_write(sys.argv[1], b"x" * (1 << 20))
except OSError as exc:
    print(f"failed: {exc.strerror}")
    sys.exit(3)
"""


def _others(folder: Path, name: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != name)


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"\x00bytes\xff", b"\x00bytes\xff"), ("text: é\n", "text: é\n".encode())],
)
def test_replaces_the_file_and_leaves_nothing_beside_it(
    tmp_path: Path, data: bytes | str, expected: bytes
) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(OLD)
    atomic_write(target, data)
    assert target.read_bytes() == expected
    assert _others(tmp_path, "state.json") == []


@pytest.mark.parametrize("mode", [0o600, 0o644])
def test_mode_is_what_was_asked_whatever_the_umask(tmp_path: Path, mode: int) -> None:
    old_umask = os.umask(0o077 if mode == 0o644 else 0)
    try:
        atomic_write(tmp_path / "new.txt", "x", mode=mode)
    finally:
        os.umask(old_umask)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == mode


def test_default_mode_is_private(tmp_path: Path) -> None:
    atomic_write(str(tmp_path / "key"), b"secret")
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("on_limit", ["die", "ignore"])
def test_a_write_cut_short_leaves_the_old_file(tmp_path: Path, on_limit: str) -> None:
    """``die``: the process is killed mid-write (a crash: only a ``.tmp-*`` file may stay
    behind); ``ignore``: the write fails, the helper removes its temporary file and raises."""
    target = tmp_path / "keys"
    target.write_bytes(OLD)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(target), on_limit],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert target.read_bytes() == OLD
    left = _others(tmp_path, "keys")
    if on_limit == "die":
        assert done.returncode == -signal.SIGXFSZ, done.stderr
        assert len(left) == 1 and left[0].startswith(".tmp-keys."), left
        assert (tmp_path / left[0]).stat().st_size <= 64 * 1024  # it was cut mid-write
    else:
        assert done.returncode == 3, done.stderr
        assert "File too large" in done.stdout
        assert left == []


def test_a_missing_folder_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "absent" / "file", b"x")
    assert not (tmp_path / "absent").exists()
