"""Issue 15 item 8: the log file is created 0600, rotated files too, and the documented
``SOULSPOT__OBSERVABILITY__LOG_FILE`` switch is a switch (not "read the value from a file")."""

from __future__ import annotations

import logging
import logging.handlers
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from obs_support import OTHERS


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: new files would be world-readable
    try:
        yield
    finally:
        os.umask(old)


def _file_handler() -> logging.handlers.RotatingFileHandler:
    return next(
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.handlers.RotatingFileHandler)
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_log_file_from_the_env_switch_is_private_and_stays_so_on_rotation(
    make_app: Any, tmp_path: Path, open_umask: None
) -> None:
    data_dir = tmp_path / "data"
    app = make_app(
        disable=OTHERS,
        data_dir=data_dir,
        env={"SOULSPOT__OBSERVABILITY__LOG_FILE": "true"},
    )
    try:
        log_file = data_dir / "logs" / "soulspot.log"
        app.test_client().get("/health/live", headers={"X-Request-ID": "private-1"})
        handler = _file_handler()
        handler.flush()
        assert "private-1" in log_file.read_text()
        assert _mode(log_file) == 0o600
        handler.doRollover()
        logging.getLogger("soulspot.test").warning("after rotation")
        handler.flush()
        rotated = log_file.with_name("soulspot.log.1")
        assert "private-1" in rotated.read_text()
        assert "after rotation" in log_file.read_text()
        assert _mode(rotated) == 0o600 and _mode(log_file) == 0o600
    finally:
        make_app(disable=OTHERS)  # back to the plain stream handler for later tests
