"""Per-app kernel state, kept in ``app.extensions["soulspot"]``."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from .config import Settings
from .plugins import PluginInfo
from .stores import Storage


@dataclass
class KernelState:
    pm: pluggy.PluginManager
    settings: Settings
    plugins: list[PluginInfo]
    data_dir: Path
    storage: Storage | None = None
    auth: Any = None
    #: Set while the app is in maintenance (a restore): requests get 503 + Retry-After.
    maintenance_reason: str | None = None
    #: The APScheduler scheduler, only in the serving process.
    scheduler: Any = None
    serving: bool = False
    started_at: float = field(default_factory=time.time)
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: What each plugin keeps per app (``soulspot.api.state_for`` / ``set_state_for``).
    plugin_state: dict[str, Any] = field(default_factory=dict)
    #: The request phases and WSGI middleware, in the order they run (set by create_app).
    phases: list[Any] = field(default_factory=list)
    middleware: list[Any] = field(default_factory=list)

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def enabled_plugins(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.enabled]
