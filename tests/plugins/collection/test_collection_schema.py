"""Migration 1 is frozen DDL matching the models; it downgrades cleanly. Config errors are
clear; cron day numbers mean what cron says."""

from __future__ import annotations

import peewee
import pytest
from collection_support import ONLY, ListVault, VaultPlugin

from soulspot import api
from soulspot.config import ConfigError
from soulspot_collection.models import _SCHEMA_1, MODELS
from soulspot_collection.schedule import cron_args


def _sql(db):
    rows = db.execute_sql("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    return {row[0] for row in rows}


def test_schema_1_matches_the_models():
    from_models = peewee.SqliteDatabase(":memory:")
    with from_models.bind_ctx(MODELS):
        from_models.create_tables(MODELS)
    frozen = peewee.SqliteDatabase(":memory:")
    for statement in _SCHEMA_1:
        frozen.execute_sql(statement)
    assert _sql(frozen) == _sql(from_models)


def test_downgrade_drops_the_tables_and_upgrade_brings_them_back(make_app):
    app = make_app(only=ONLY, plugins=[("vault", VaultPlugin(ListVault()))])
    with app.app_context():
        store = api.storage()
        with store.connection():
            tables = lambda: {  # noqa: E731
                r[0]
                for r in store.database.execute_sql(
                    "SELECT name FROM sqlite_master WHERE name LIKE 'collection_%' AND type='table'"
                )
            }
            assert tables() == {
                f"collection_{t}" for t in ("files", "scans", "matches", "candidates", "decisions")
            }
            assert store.downgrade("collection", 0) == [
                "collection <- 0: collection files, scans, matches, candidates and decisions"
            ]
            assert tables() == set()
            assert store.schema_versions()["collection"] == 0
            store.upgrade()
            assert len(tables()) == 5


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("scan_schedule", "every day", "five fields"),
        ("scan_schedule", "0 3 * * 9", "not in 0-7"),
        ("file_types", ["mp3", "wma"], "file_types"),
        ("music_dirs", "/music", "music_dirs"),
    ],
)
def test_bad_config_is_refused_with_the_key_and_reason(make_app, key, value, expected):
    with pytest.raises(ConfigError) as refused:
        make_app(
            {"plugins": {"collection": {key: value}}},
            only=ONLY,
            plugins=[("vault", VaultPlugin(ListVault()))],
        )
    assert f"plugins.collection.{key}" in str(refused.value) and expected in str(refused.value)


def test_cron_days_are_numbered_as_cron_numbers_them():
    assert cron_args("0 3 * * 0")["day_of_week"] == "sun"
    assert cron_args("0 3 * * 7")["day_of_week"] == "sun"
    assert cron_args("30 4 * * 1-5")["day_of_week"] == "mon,tue,wed,thu,fri"
    assert cron_args("0 0 1 * *")["day_of_week"] == "*"
