"""Hook implementations of the `replication` plugin (the `soulspot.plugins` entry point).

Off until ``[plugins.replication] replica_url`` is set; then ``soulspot serve`` supervises
Litestream and every other hook reports on, or restores from, the replica.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soulspot import hookimpl
from soulspot.types import DashboardPanel, HealthCheck, PluginManifest

if TYPE_CHECKING:  # pragma: no cover
    from flask import Blueprint, Flask

    from .source import Replica

EXTENSION = "soulspot_replication"
DB_FILENAME = "soulspot.db"


@hookimpl
def manifest() -> PluginManifest:
    # No ``requires``: off until configured, and tests or setups without a storage plugin
    # must not have to disable it; it replicates the storage plugin's file when there is one.
    return PluginManifest(
        config_model="soulspot_replication.config:ReplicationConfig",
        description=(
            "Continuous replication of the database with Litestream; point-in-time restore."
        ),
    )


def _replica(app: Flask) -> Replica | None:
    from soulspot import api

    try:
        return api.state_for(EXTENSION, app)  # type: ignore[no-any-return]
    except LookupError:
        pass
    with app.app_context():
        cfg = api.config_for("replication")
        data_dir = Path(api.data_dir())
    replica = None
    if cfg.enabled:
        from .litestream import write_config
        from .source import Replica, replica_config_folder

        db_path = data_dir / DB_FILENAME
        config_path = write_config(replica_config_folder(data_dir), db_path, cfg)
        replica = Replica(cfg, config_path, db_path)
    return api.set_state_for(EXTENSION, replica, app)


@hookimpl
def point_in_time_source(app: Flask) -> Any:
    return _replica(app)


@hookimpl
def register_blueprints(app: Flask) -> Iterable[Blueprint]:
    from .views import make_blueprint

    return [make_blueprint(_replica(app))]


@hookimpl
def before_serve(app: Flask) -> None:
    replica = _replica(app)
    if replica is None:
        return
    from .supervisor import Supervisor

    replica.supervisor = Supervisor(replica.cfg, replica.litestream.config_path)
    replica.supervisor.start()


@hookimpl
def shutdown(app: Flask) -> None:
    replica = _replica(app)
    if replica is not None and replica.supervisor is not None:
        replica.supervisor.stop()


@hookimpl
def health_checks(app: Flask) -> Iterable[HealthCheck]:
    replica = _replica(app)
    if replica is None:
        return []
    from .observe import health_check

    return [HealthCheck("replication", health_check(replica), critical=False, timeout=5.0)]


@hookimpl
def metrics(app: Flask) -> Iterable[Any]:
    replica = _replica(app)
    if replica is None:
        return []
    from .observe import ReplicationCollector

    return [ReplicationCollector(replica)]


@hookimpl
def dashboard_panels(app: Flask) -> Iterable[DashboardPanel]:
    replica = _replica(app)
    if replica is None:
        return []
    from .observe import panel_data

    return [
        DashboardPanel(
            "Point-in-time recovery", "replication/panel.html", lambda: panel_data(replica), 55
        )
    ]
