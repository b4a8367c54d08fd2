"""The plugin's own table and its migration: who was greeted, and when.

The database is shared by every plugin, so the table name starts with the plugin name
(``hello_greetings``). The schema comes from migrations, never from ``create_tables``: each
released version is a numbered step, written out, so a later change to the model never
changes what an old step does (a new step alters the table instead).
"""

from __future__ import annotations

import time
from typing import Any

import peewee

from soulspot.db import BaseModel
from soulspot.types import Migration


class Greeting(BaseModel):
    id = peewee.AutoField()
    name = peewee.CharField(max_length=40)
    greeted_at = peewee.FloatField()  # UNIX seconds, UTC

    class Meta:
        table_name = "hello_greetings"


def _upgrade_1(db: Any, migrator: Any) -> None:
    db.execute_sql(
        'CREATE TABLE "hello_greetings" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"name" VARCHAR(40) NOT NULL, "greeted_at" REAL NOT NULL)'
    )


def _downgrade_1(db: Any, migrator: Any) -> None:
    db.execute_sql('DROP TABLE IF EXISTS "hello_greetings"')


def migrations() -> list[Migration]:
    return [Migration("hello", 1, "hello greetings", _upgrade_1, _downgrade_1)]


def record(name: str) -> Greeting:
    greeting: Greeting = Greeting.create(name=name, greeted_at=time.time())
    return greeting


def latest(limit: int) -> list[Greeting]:
    return list(Greeting.select().order_by(Greeting.id.desc()).limit(limit))
