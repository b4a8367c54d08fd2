"""With a point-in-time source that owns checkpoints (the replication plugin's Litestream),
the store leaves the WAL alone: SQLite's auto-checkpoint is off, so frames stay in the WAL
until the replicator has shipped them and checkpoints itself. Without one, SQLite's default
auto-checkpoint (1000 pages) keeps the WAL small."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest

from soulspot import api, hookimpl
from soulspot.replication import PointInTimeSource, RestoreWindow
from soulspot.types import PluginManifest

PAGE = 4096


class ReplicatorStandIn:
    """A replicator that owns checkpoints (the contract only: nothing replicates)."""

    owns_checkpoints = True

    def window(self) -> RestoreWindow | None:
        return None

    def restore_to(self, path: Path, at: dt.datetime | None) -> dt.datetime:
        raise NotImplementedError

    def paused(self) -> nullcontext[None]:
        return nullcontext()

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test replicator")

    @hookimpl
    def point_in_time_source(self, app: object) -> PointInTimeSource:
        return self


def _write_pages(app: object, pages: int) -> int:
    """Commit ``pages`` pages of rows, one page per commit; the WAL's size after."""
    with app.app_context():  # type: ignore[attr-defined]
        store = api.storage()
        db = store.database
        with store.connection():
            db.execute_sql("CREATE TABLE IF NOT EXISTS ballast (blob BLOB)")
            for _ in range(pages):
                with store.write_transaction():
                    db.execute_sql("INSERT INTO ballast VALUES (zeroblob(?))", (PAGE - 64,))
        return Path(f"{store.path}-wal").stat().st_size


@contextmanager
def _app(make_app, replicator: bool) -> Iterator[object]:
    plugins = [("replicator", ReplicatorStandIn())] if replicator else []
    app = make_app(plugins=plugins, only=["sqlite"])
    try:
        yield app
    finally:
        with app.app_context():
            api.storage().close()


@pytest.mark.parametrize("replicator", [True, False], ids=["replicated", "not replicated"])
def test_the_wal_is_checkpointed_only_without_a_replicator(make_app, replicator):
    with _app(make_app, replicator) as app:
        with app.app_context():
            assert (api.point_in_time_source() is not None) is replicator
        wal = _write_pages(app, 1500)
    if replicator:  # every frame is still in the WAL, waiting for the replicator
        assert wal > 1500 * PAGE
    else:  # SQLite checkpointed at 1000 pages and started the WAL over
        assert wal < 1100 * PAGE
