"""Issue 15 item 8: the ``_FILE`` suffix reads a value from a file only for keys that do not
themselves end in ``_file``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from soulspot.config import ConfigError, load_settings
from soulspot.testing import build_app


def test_a_real_key_ending_in_file_takes_its_value(tmp_path: Path) -> None:
    """Before: SOULSPOT__OBSERVABILITY__LOG_FILE=true read plugins.observability.log from a
    file named ``true`` (and failed, or worse, found one)."""
    app = build_app(
        tmp_path / "data",
        env={
            "SOULSPOT__OBSERVABILITY__LOG_FILE": "true",
            "SOULSPOT__OBSERVABILITY__LOG_FILE_MAX_MB": "3",
        },
        only=["observability"],
    )
    config = app.extensions["soulspot"].settings.plugins["observability"]
    assert config.log_file is True and config.log_file_max_mb == 3


def test_the_suffix_still_reads_secrets_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("s" * 40 + "\n")
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse battery staple\n")
    env = {
        "SOULSPOT__KERNEL__SECRET_KEY_FILE": str(secret),
        "SOULSPOT__BACKUP__PASSPHRASE_FILE": str(passphrase),
    }
    settings = load_settings(None, env=env)
    assert settings.kernel.secret_key is not None
    assert settings.kernel.secret_key.get_secret_value() == "s" * 40
    assert settings.origin("kernel.secret_key") == "env SOULSPOT__KERNEL__SECRET_KEY_FILE"
    app = build_app(tmp_path / "data", env=env, only=["sqlite", "backup"])
    backup = app.extensions["soulspot"].settings.plugins["backup"]
    assert backup.passphrase.get_secret_value() == "correct horse battery staple"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"SOULSPOT__KERNEL__NOPE_FILE": "/x"}, "unknown key kernel.nope_file"),
        ({"SOULSPOT__BACKUP__PASSPHRASE_FILE": "/nonexistent/p"}, "cannot read /nonexistent/p"),
    ],
)
def test_unknown_and_unreadable_file_keys_are_explained(
    tmp_path: Path, env: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        build_app(tmp_path / "data", env=env, only=["sqlite", "backup"])
    assert fragment in str(info.value)
    assert next(iter(env)) in str(info.value)
