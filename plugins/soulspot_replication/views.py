"""``GET /api/replication``: the replica's state and restorable window (for scripts and the
backups page's time picker)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pydantic import BaseModel

from soulspot.validation import NoParams, validate

from .source import Replica


class Window(BaseModel):
    earliest: str
    latest: str


class ReplicationOut(BaseModel):
    enabled: bool
    replica: str | None = None
    supervised: bool | None = None
    running: bool | None = None
    restarts: int | None = None
    lag_seconds: float | None = None
    last_sync: str | None = None
    window: Window | None = None
    replica_bytes: int | None = None
    error: str | None = None


def make_blueprint(replica: Replica | None) -> Blueprint:
    bp = Blueprint("replication", __name__, template_folder="templates")

    @bp.get("/api/replication")
    @validate(
        query=NoParams,
        response=ReplicationOut,
        summary="The replica's state and the window it can restore.",
    )
    def status(query: NoParams) -> ReplicationOut:
        if replica is None:
            return ReplicationOut(enabled=False)
        from .observe import details

        info: dict[str, Any] = details(replica)
        info.pop("pid", None)
        return ReplicationOut(enabled=True, **info)

    return bp
