"""Helpers of the kernel tests: run the real ``soulspot`` command, fake installed distributions.

A "fake distribution" is what pip would leave behind: a module plus a
``<name>-<version>.dist-info`` folder with ``METADATA`` and ``entry_points.txt``. Put its folder
on ``sys.path`` (in process) or ``PYTHONPATH`` (subprocess) and ``importlib.metadata`` finds it
exactly like an installed third-party plugin.
"""

from __future__ import annotations

import html
import os
import queue
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SOULSPOT = str(BIN / "soulspot")
FLASK = str(BIN / "flask")
BUILTINS = (
    "sqlite",
    "spotify",
    "observability",
    "metrics",
    "security",
    "backup",
    "library",
    "collection",
    "tracing",
    "notify",
    "replication",
)
ALL_BUILTINS_OFF = ",".join(BUILTINS)


def clean_env(extra: Mapping[str, str] | None = None, pythonpath: Iterable[Path] = ()) -> dict:
    """The caller's environment without any ``SOULSPOT*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    env.pop("PYTHONPATH", None)
    paths = [str(p) for p in pythonpath]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def run_soulspot(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    pythonpath: Iterable[Path] = (),
    timeout: float = 60,
    program: str = SOULSPOT,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``soulspot`` console script in ``cwd`` with a clean environment."""
    return subprocess.run(
        [program, *args],
        cwd=cwd,
        env=clean_env(env, pythonpath),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit code 2, every fragment in stderr, and no traceback anywhere."""
    out = result.stdout + result.stderr
    assert result.returncode == 2, f"exit {result.returncode}\n{out}"
    assert "Traceback" not in out, out
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"
    return result.stderr


def unique(prefix: str) -> str:
    """A module name no other test (or worker) uses, so ``sys.modules`` never hands back an
    earlier test's module."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def make_dist(
    root: Path,
    *,
    plugin: str,
    module: str,
    source: str,
    dist: str | None = None,
    version: str = "1.0",
    extra_modules: Mapping[str, str] | None = None,
) -> Path:
    """Write an "installed" distribution registering ``plugin = module`` in ``soulspot.plugins``."""
    root.mkdir(parents=True, exist_ok=True)
    dist = dist or f"{module.replace('_', '-')}-dist"
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    for name, text in (extra_modules or {}).items():
        (root / f"{name}.py").write_text(textwrap.dedent(text))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\nSummary: test plugin\n"
    )
    (info / "entry_points.txt").write_text(f"[soulspot.plugins]\n{plugin} = {module}\n")
    return root


def manifest_plugin(
    provides: tuple[str, ...] = (),
    requires: tuple[str, ...] = (),
    kernel: str = ">=0.1,<1.0",
    config_model: str | None = None,
    body: str = "",
) -> str:
    """Source of a plugin module with a manifest (and ``body`` appended)."""
    return textwrap.dedent(
        f"""
            from soulspot import hookimpl
            from soulspot.types import PluginManifest


            @hookimpl
            def manifest():
                return PluginManifest(
                    provides={provides!r},
                    requires={requires!r},
                    kernel={kernel!r},
                    config_model={config_model!r},
                    description="a plugin made by a test",
                )
            """
    ) + textwrap.dedent(body)


CONFIG_MODEL = """
from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    greeting: str = Field("hello", description="What the plugin says.")
    times: int = Field(1, ge=1, le=10, description="How often it says it.")
    api_token: SecretStr | None = Field(None, description="A secret for the test.")
"""


class Process:
    """A running ``soulspot`` (or other) process whose output we wait on, never sleep on."""

    def __init__(self, args: list[str], *, cwd: Path, env: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(  # a list of arguments, no shell
            args,
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, needle: str, timeout: float = 90) -> str:
        """Return the first output line (already read or still to come) containing ``needle``."""
        for line in self.lines:
            if needle in line:
                return line
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if needle in line:
                return line
        raise AssertionError(f"{needle!r} never appeared; output:\n{''.join(self.lines)}")

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for the exit; return the exit code and the whole output."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        while (line := self._queue.get_nowait() if not self._queue.empty() else None) is not None:
            self.lines.append(line)
        return code, "".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def settings_rows(page: str) -> dict[str, tuple[str, str]]:
    """``{key: (value, origin)}`` of the Settings page's tables."""
    found = re.findall(
        r'<th scope="row"><code>([^<]+)</code></th>\s*<td data-label="Value"><code class="value">'
        r'([^<]*)</code></td>\s*<td data-label="From" class="origin">([^<]+)</td>',
        page,
    )
    return {key: (html.unescape(value), origin) for key, value, origin in found}
