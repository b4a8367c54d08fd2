"""Is a database copy's schema the one this code's migrations build? (Checked before a
restored copy replaces the live database.)

A backup kept off the machine may have been changed: a trigger that erases later audit rows,
a view or table the code never made. The known schema is rebuilt by applying this code's
migrations, up to the copy's own recorded versions, to an empty database; every table, index,
trigger and view of the copy must be in it with the same definition (whitespace aside).
SQLite's own objects (``sqlite_sequence``, ``sqlite_stat*``, automatic indexes) are left out.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from soulspot.types import Migration

from .migrate import BOOKKEEPING_DDL, _order

_INTERNAL_TABLES = frozenset(
    {"sqlite_sequence", "sqlite_stat1", "sqlite_stat2", "sqlite_stat3", "sqlite_stat4"}
)
#: Litestream (the replicator behind a point-in-time source) keeps these bookkeeping tables
#: in the database it replicates, so every copy taken while it runs (a replica restore, a
#: snapshot backup) holds them; they are its own, not a schema change.
_REPLICATOR_TABLES = frozenset({"_litestream_seq", "_litestream_lock"})

Schema = dict[tuple[str, str], str]


def _normal(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").strip()


def schema_of(conn: sqlite3.Connection) -> Schema:
    """``(type, name) -> normalised SQL`` of every object a user could have made."""
    found: Schema = {}
    for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_master"):
        if kind == "table" and (name in _INTERNAL_TABLES or name in _REPLICATOR_TABLES):
            continue
        if kind == "index" and str(name).startswith("sqlite_autoindex_") and sql is None:
            continue
        found[(str(kind), str(name))] = _normal(sql)
    return found


def known_schema(migrations: Mapping[str, list[Migration]], versions: Mapping[str, int]) -> Schema:
    """The schema this code's migrations build at ``versions`` (per plugin)."""
    import peewee
    from playhouse.migrate import SqliteMigrator

    with tempfile.TemporaryDirectory(prefix="soulspot-schema-") as tmp:
        db: Any = peewee.SqliteDatabase(str(Path(tmp) / "reference.db"))
        db.connect()
        try:
            db.execute_sql(BOOKKEEPING_DDL)
            migrator = SqliteMigrator(db)
            for plugin in sorted(migrations, key=_order):
                for step in sorted(migrations[plugin], key=lambda m: m.version):
                    if step.version <= versions.get(plugin, 0):
                        with db.atomic():
                            step.upgrade(db, migrator)
            return schema_of(db.connection())
        finally:
            db.close()


def unknown_objects(
    copy: Path, migrations: Mapping[str, list[Migration]]
) -> tuple[list[str], list[str]]:
    """``(problems, plugins)``: objects of ``copy`` this code does not make (or makes
    differently), and plugins the copy has a schema for that are not loaded here."""
    conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        versions = {
            str(p): int(v) for p, v in conn.execute("SELECT plugin, version FROM schema_versions")
        }
        found = schema_of(conn)
    finally:
        conn.close()
    missing_plugins = sorted(p for p, v in versions.items() if v and p not in migrations)
    known = known_schema(migrations, versions)
    problems: list[str] = []
    for (kind, name), sql in sorted(found.items()):
        if (kind, name) not in known:
            problems.append(f"unknown {kind} {name!r}")
        elif known[(kind, name)] != sql:
            problems.append(f"{kind} {name!r} differs from the one this code creates")
    return problems, missing_plugins
