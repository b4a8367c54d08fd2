"""The point-in-time contract: a continuous replica of the database that can be restored to
a moment (the replication plugin provides it; the backup plugin's restore and the storage
plugin use it). Plugins meet here, never in each other's modules.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


class PointInTimeError(Exception):
    """A restore from the replica failed or was refused; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreWindow:
    """The moments the replica can bring the database back to (both ends included, UTC)."""

    earliest: dt.datetime
    latest: dt.datetime

    def contains(self, at: dt.datetime) -> bool:
        return self.earliest <= at <= self.latest


@runtime_checkable
class PointInTimeSource(Protocol):
    """A replica of the database (``<data_dir>/soulspot.db``) with history."""

    #: The replicator checkpoints the WAL itself: the store must not (no auto-checkpoint,
    #: no ``wal_checkpoint(TRUNCATE)``), or WAL frames could be checkpointed away before
    #: they are shipped.
    owns_checkpoints: bool

    def window(self) -> RestoreWindow | None:
        """The restorable window now; ``None`` while the replica holds nothing yet."""
        ...

    def restore_to(self, path: Path, at: dt.datetime | None) -> dt.datetime:
        """Write the database as it was at ``at`` (UTC; ``None``: the latest moment the
        replica holds) to the new file ``path``, and return the moment it holds. Raises
        :class:`PointInTimeError` (outside the window, replica unreachable) with nothing
        written at ``path``."""
        ...

    def paused(self) -> AbstractContextManager[None]:
        """Stop replicating for the block (a restore swaps the database file) and resume
        after it, on the file then in place."""
        ...
