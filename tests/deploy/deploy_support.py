"""Helpers of the deployment tests: run the real ``soulspot`` command and serve it as a
process, exactly as an operator (or a container) would."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SOULSPOT = str(BIN / "soulspot")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without ``SOULSPOT*`` variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    env.pop("PYTHONPATH", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def run(
    args: list[str] | str,
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    shell: bool = False,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        shell=shell,
        input=input,
        executable="/bin/bash" if shell else None,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def wait_for(url: str, deadline: float = 20.0, proc: subprocess.Popen[str] | None = None) -> None:
    """Wait until ``url`` answers at all (any status) or fail with what the process said."""
    end = time.monotonic() + deadline
    last: Exception | None = None
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"server exited {proc.returncode}:\n{out}\n{err}")
        try:
            http_get(url, timeout=1)
            return
        except OSError as exc:
            last = exc
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {deadline}s: {last}")


@contextmanager
def serving(
    cwd: Path,
    env: Mapping[str, str],
    args: list[str] | None = None,
    port: int | None = None,
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``soulspot serve`` on 127.0.0.1:<port> as a subprocess; stopped with SIGTERM after."""
    port = port or free_port()
    cmd = args or [SOULSPOT, "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/favicon.ico", proc=proc)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def shell_blocks(markdown: str, lang: str = "sh") -> list[str]:
    """The fenced code blocks of ``markdown`` in language ``lang`` (in order)."""
    return [
        m.group(1)
        for m in re.finditer(rf"^```{lang}[^\n]*\n(.*?)^```", markdown, flags=re.M | re.S)
    ]


NOTES_PLUGIN = '''
"""A third-party plugin for the upgrade/rollback drill: version {version}."""
from soulspot import hookimpl
from soulspot.types import Migration, PluginManifest


@hookimpl
def manifest():
    return PluginManifest(requires=("storage",), description="Notes (upgrade drill)")


def _v1_up(db, migrator):
    db.execute_sql("CREATE TABLE notes_note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")


def _v1_down(db, migrator):
    db.execute_sql("DROP TABLE notes_note")


def _v2_up(db, migrator):
    db.execute_sql("ALTER TABLE notes_note ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")


def _v2_down(db, migrator):
    db.execute_sql("ALTER TABLE notes_note DROP COLUMN pinned")


STEPS = [
    Migration("notes", 1, "notes table", _v1_up, _v1_down),
    Migration("notes", 2, "notes can be pinned", _v2_up, _v2_down),
]


@hookimpl
def migrations():
    return STEPS[:{heads}]
'''


def notes_distribution(root: Path, version: str) -> Path:
    """An installed-looking ``soulspot-notes`` distribution at ``version`` ("1.0" has schema
    1, "2.0" adds schema 2); put the returned folder on ``PYTHONPATH``."""
    heads = int(version.split(".")[0])
    folder = root / f"notes-{version}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "soulspot_notes.py").write_text(NOTES_PLUGIN.format(version=version, heads=heads))
    info = folder / f"soulspot_notes-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: soulspot-notes\nVersion: {version}\n"
    )
    (info / "entry_points.txt").write_text("[soulspot.plugins]\nnotes = soulspot_notes\n")
    (info / "top_level.txt").write_text("soulspot_notes\n")
    return folder


def doc_block(path: Path, tag: str) -> str:
    """The fenced ``sh`` block tagged ``test:<tag>`` in the Markdown file ``path``."""
    blocks = re.findall(
        rf"^( *)```sh test:{re.escape(tag)}\n(.*?)^ *```", path.read_text(), flags=re.M | re.S
    )
    assert len(blocks) == 1, f"{path.name}: expected one block tagged test:{tag}"
    indent, body = blocks[0]
    return textwrap.dedent(body) if indent else str(body)


def run_doc_block(
    path: Path, tag: str, *, cwd: Path, env: Mapping[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run a documented block with bash (``set -euo pipefail``), ``soulspot`` on PATH."""
    script = "set -euo pipefail\n" + doc_block(path, tag)
    result = run(["bash", "-c", script], cwd=cwd, env=env, timeout=timeout)
    assert result.returncode == 0, (
        f"{path.name} block test:{tag} failed ({result.returncode}):\n{result.stdout}\n"
        f"{result.stderr}"
    )
    return result
