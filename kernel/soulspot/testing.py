"""Test helpers for SoulSpot and its plugins (a pytest plugin: ``pytest_plugins =
["soulspot.testing"]``).

``make_app(config=..., plugins=[("name", module)], disable=[...])`` builds an app on a fresh
data dir under ``tmp_path``, isolated from the caller's ``SOULSPOT_*`` environment.
``LiveServer`` serves an app on a free loopback port in a background thread (waitress, the
same server as ``soulspot serve``) for tests that need real HTTP.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from .app import create_app
from .scheduler import collect_jobs, run_job


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def build_app(
    data_dir: Path,
    config: Mapping[str, Any] | None = None,
    *,
    plugins: Iterable[tuple[str, object]] = (),
    disable: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
) -> Flask:
    """An app with its data in ``data_dir`` and no config file unless ``config_path``."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    base_env.update(env or {})
    if disable:
        base_env["SOULSPOT_DISABLE_PLUGINS"] = ",".join(disable)
    if config_path is None:
        config_path = data_dir.parent / "soulspot-test.toml"
        if not Path(config_path).exists():
            Path(config_path).parent.mkdir(parents=True, exist_ok=True)
            Path(config_path).write_text("# empty: defaults plus test overrides\n")
    merged = deep_merge({"kernel": {"data_dir": str(data_dir)}}, config or {})
    return create_app(merged, plugins=plugins, env=base_env, config_path=config_path)


def run_jobs(app: Flask, job_id: str) -> None:
    """Run the scheduled job ``job_id`` once, as the scheduler would; raise what it raised."""
    for job in collect_jobs(app):
        if job.id == job_id:
            error = run_job(app, job)
            if error is not None:
                raise error
            return
    raise LookupError(f"no job {job_id!r}")


class LiveServer:
    """Serve an app on ``127.0.0.1:<free port>`` in a thread; ``url`` is its base URL."""

    def __init__(self, app: Flask, threads: int = 4) -> None:
        from waitress.server import create_server

        self.app = app
        self.server = create_server(app, host="127.0.0.1", port=0, threads=threads)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"  # type: ignore[union-attr]
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # Close every socket (listener, keep-alive connections, trigger) from inside the
        # server's own loop thread: closing them from here races its select() (EBADF), and
        # an open keep-alive connection would keep the loop alive until the join times out.
        server: Any = self.server

        def stop() -> None:
            for channel in list(server._map.values()):
                channel.close()

        server.trigger.pull_trigger(stop)
        self.thread.join(timeout=5)
        server.task_dispatcher.shutdown()


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Factory fixture: ``make_app(config=None, plugins=(), disable=())``."""
    counter = iter(range(1000))

    def factory(
        config: Mapping[str, Any] | None = None,
        *,
        plugins: Iterable[tuple[str, object]] = (),
        disable: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        data_dir: Path | None = None,
    ) -> Flask:
        target = data_dir or tmp_path / f"data{next(counter)}"
        return build_app(target, config, plugins=plugins, disable=disable, env=env)

    yield factory
