"""The kernel's database handle: plugins declare peewee models on :data:`database`.

The storage plugin initialises the proxy when it opens the store, so models never know which
database (or which engine) is behind it. One app per process at a time is served; tests that
build many apps re-initialise it in each ``create_app``.
"""

from __future__ import annotations

import peewee

#: Initialised by the storage concern: ``database.initialize(db)``.
database = peewee.DatabaseProxy()


class BaseModel(peewee.Model):
    """Base class for plugin models: ``class Token(BaseModel): ...``."""

    class Meta:
        database = database
        legacy_table_names = False
