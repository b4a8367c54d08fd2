"""Running a restore again after one was killed mid-swap (what the start-up refusal tells
the operator to do), when the new run fails too; and the automatic roll-back of a plain
archive when a default passphrase encrypts the pre-restore backup. In every case the data
is either put back whole or start-up keeps refusing it: never mixed data served as sound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from backup_support import FileSource, RowsPlugin, all_rows, insert_rows

from soulspot import hookimpl
from soulspot.types import BackupSource, PluginManifest, StagedRestore
from soulspot_backup import marker
from soulspot_backup.archive import BackupError
from soulspot_backup.service import service

DISABLE = ["spotify", "security", "library", "collection"]


class Failing:
    """A source whose staging fails while ``flag`` exists, or whose restore fails once."""

    def __init__(self, flag: Path, when: str, first: bool) -> None:
        self.flag, self.when, self.first = flag, when, first

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: a source that fails on demand")

    @hookimpl(tryfirst=True)
    def backup_sources(self, app: Any) -> list[BackupSource]:
        def snapshot(dest: Path) -> None:
            (dest / "f").write_text("x")

        def restore(_src: Path) -> None:
            if self.when == "swap" and self.flag.exists():
                self.flag.unlink()  # once: the roll-back's restore of it works
                raise RuntimeError("swap failed")

        def stage(_src: Path) -> StagedRestore:
            if self.when == "stage" and self.flag.exists():
                raise RuntimeError("staging failed")
            return StagedRestore(swap=lambda: restore(_src), discard=lambda: None)

        name = "afail" if self.first else "zfail"
        return [BackupSource(name, snapshot, restore, lambda _s: [], stage=stage)]


def _killed_mid_swap(data: Path, backup_id: str, pre_restore: str, **extra: Any) -> None:
    marker.write(
        data, {"backup": backup_id, "pre_restore": pre_restore, "state": "swapping", **extra}
    )


def test_a_failed_retry_leaves_the_interrupted_restore_refused(
    make_app: Any, tmp_path: Path
) -> None:
    flag, data = tmp_path / "flag", tmp_path / "data"
    plugins = [("rows", RowsPlugin()), ("fail", Failing(flag, "stage", first=False))]
    app = make_app(plugins=plugins, disable=DISABLE, data_dir=data)
    insert_rows(app, 10)
    with app.app_context():
        before = service(app).create("manual")
        archive = service(app).create("manual")
    _killed_mid_swap(data, archive.id, before.id, sources=["database", "config", "zfail"])
    flag.write_text("on")
    with app.app_context(), pytest.raises(BackupError) as refused:
        service(app).restore(archive.id)
    assert "still to be finished or rolled back" in str(refused.value)
    assert "nothing was changed" not in str(refused.value)
    left = marker.read(data)
    assert left is not None and left["state"] == "swapping"  # start-up still refuses


def test_the_roll_back_of_a_retry_puts_back_what_the_killed_run_swapped(
    make_app: Any, tmp_path: Path
) -> None:
    flag, data, kept = tmp_path / "flag", tmp_path / "data", tmp_path / "file.txt"
    kept.write_text("before")
    plugins = [
        ("rows", RowsPlugin()),
        ("fail", Failing(flag, "swap", first=True)),
        ("kept", FileSource(kept, sensitive=False)),
    ]
    app = make_app(plugins=plugins, disable=DISABLE, data_dir=data)
    with app.app_context():
        before = service(app).create("manual")
        kept.write_text("archived")
        archive = service(app).create("manual")
    # the killed run had swapped the file already (and only that)
    _killed_mid_swap(data, archive.id, before.id)
    flag.write_text("on")
    with app.app_context(), pytest.raises(BackupError) as failed:
        service(app).restore(archive.id)
    assert kept.read_text() == "before", failed.value
    assert marker.read(data) is None


def test_a_plain_archive_rolls_back_with_the_default_passphrase(
    make_app: Any, tmp_path: Path
) -> None:
    flag, data = tmp_path / "flag", tmp_path / "data"
    plugins = [("rows", RowsPlugin()), ("fail", Failing(flag, "swap", first=False))]
    app = make_app(plugins=plugins, disable=DISABLE, data_dir=data)
    insert_rows(app, 10)
    with app.app_context():
        plain = service(app).create("manual")
    assert plain.path.name.endswith(".tar")
    config = {"plugins": {"backup": {"passphrase": "a long passphrase 123"}}}
    encrypted = make_app(config, plugins=plugins, disable=DISABLE, data_dir=data)
    insert_rows(encrypted, 5, start=10)
    flag.write_text("on")
    with encrypted.app_context(), pytest.raises(BackupError) as failed:
        service(encrypted).restore(plain.id)
    assert "put back" in str(failed.value) and "by hand" not in str(failed.value)
    assert len(all_rows(encrypted)) == 15  # the state before the restore, not the archive's
    assert marker.read(data) is None
