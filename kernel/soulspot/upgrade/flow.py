"""One upgrade, start to end: install, back up, switch, restart, watch — or roll back.

Exit codes (the operator's first signal): 0 upgraded; 1 rolled back, the old version serves
again; 2 refused before anything changed (bad input, the current version not ready, the new
one rejects the config, the backup failed); 3 the rollback failed too: act now (the log says
what is where).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import ConfigError
from .commands import Environment, Service, Soulspot, StepFailed, install
from .layout import Layout, Release, wheel_version
from .watch import Verdict, probe, watch

UPGRADED, ROLLED_BACK, REFUSED, ROLLBACK_FAILED = 0, 1, 2, 3


@dataclass(frozen=True)
class Plan:
    root: Path
    wheel: Path
    url: str
    python: str
    without_pip: bool
    pip_args: tuple[str, ...]
    ready_timeout: float
    settle: float
    max_restarts: int


class Upgrade:
    def __init__(
        self,
        plan: Plan,
        service: Service,
        environment: Callable[[Path], Environment],
        say: Callable[[str], None],
    ) -> None:
        self.plan = plan
        self.service = service
        self.environment = environment
        self.say = say
        self.layout = Layout(plan.root)
        self.record: Path | None = None
        self.database = Path()

    def _record(self) -> Path:
        """This upgrade's record folder (made when the upgrade starts, before any rollback)."""
        if self.record is None:
            raise RuntimeError("no upgrade record yet: the upgrade has not started")
        return self.record

    # --- reporting -----------------------------------------------------------------------

    def log(self, message: str, **fields: object) -> None:
        """One line to the operator (stderr) and one JSON line to the upgrade's own log."""
        self.say(f"soulspot-upgrade: {message}")
        if self.record is not None:
            line = {"time": dt.datetime.now(dt.UTC).isoformat(), "message": message, **fields}
            with (self.record / "upgrade.log").open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(line, default=str) + "\n")

    def report(self, release: Release, outcome: str, old: str, new: str, reason: str) -> None:
        """The audit event and deploy status, through the version now serving."""
        env = self.environment(self.record or self.plan.root)
        done = Soulspot(release, env)(
            "deploy", "record", outcome, "--from", old, "--to", new, "--reason", reason
        )
        if done.ok:
            self.log(f"recorded audit event deploy.{outcome} with {release.version}")
        else:
            self.log(
                f"could not record deploy.{outcome} with {release.version}: {done.tail()}",
                outcome="report-failed",
            )

    # --- the upgrade ---------------------------------------------------------------------

    def run(self) -> int:
        try:
            with self.layout.locked():
                return self._run()
        except ConfigError as exc:
            self.log(f"refused: {exc}", outcome="refused")
            return REFUSED

    def _run(self) -> int:
        new_version = wheel_version(self.plan.wheel)
        old = self.layout.current()
        if new_version == old.version:
            raise ConfigError(f"version {new_version} is already current ({old.path})")
        ready, seen = probe(self.plan.url, old.version)
        if not ready:
            raise ConfigError(
                f"the current version {old.version} is not serving ready at {self.plan.url} "
                f"({seen}); fix that first, or the rollback would have nothing to return to"
            )
        self.record = self.layout.new_record(old.version, new_version, dt.datetime.now(dt.UTC))
        self.log(f"upgrading {old.version} -> {new_version}", record=str(self.record))
        env = self.environment(self.record)
        old_cmd = Soulspot(old, env)

        new = self.layout.release(new_version)
        try:
            self._install(new)
            new_cmd = Soulspot(new, env)
            version = new_cmd.must("--version").stdout.strip().rsplit(" ", 1)[-1]
            if version != new_version:
                raise StepFailed(f"{self.plan.wheel.name} installed version {version}")
            new_cmd.must("config", "check")
            self.log(f"installed {new_version} into {new.path}; it accepts the config")
            # `backup create` verifies the archive it wrote (checksums, integrity_check).
            backup_id = old_cmd.must("backup", "create").stdout.strip().splitlines()[-1]
            (self.record / "backup-before-upgrade.id").write_text(backup_id + "\n")
            status = old_cmd.db_status()
            (self.record / "schema-before-upgrade.json").write_text(json.dumps(status, indent=2))
            self.log(f"pre-upgrade backup {backup_id} verified; schema recorded", backup=backup_id)
        except StepFailed as exc:
            self.log(f"refused, nothing was switched: {exc}", outcome="refused")
            return REFUSED
        before = {p["plugin"]: int(p["applied"]) for p in status["plugins"]}
        self.database = Path(status["database"])

        base_restarts = self.service.restarts()
        self.layout.switch(new)
        self.log(f"current -> {new.path}; restarting")
        try:
            self.service.do("restart", self.log)
            verdict = self._watch(new_version, base_restarts)
        except StepFailed as exc:
            verdict = Verdict(False, str(exc))
        if verdict.ok:
            # recorded first, so that the outcome is the operator's last line
            self.report(new, "upgraded", old.version, new_version, "")
            self.log(f"UPGRADED {old.version} -> {new_version}", outcome="upgraded")
            return UPGRADED
        return self._roll_back(old, new, before, backup_id, verdict.reason)

    def _install(self, new: Release) -> None:
        if new.path.exists():  # left by an earlier attempt that did not become current
            shutil.rmtree(new.path)
        new.path.parent.mkdir(parents=True, exist_ok=True)
        env = self.environment(self.plan.root).env()
        install(
            new, self.plan.wheel, self.plan.python, self.plan.without_pip, self.plan.pip_args, env
        )

    def _watch(self, version: str, base_restarts: int | None) -> Verdict:
        return watch(
            self.plan.url,
            version,
            self.service,
            base_restarts=base_restarts,
            timeout=self.plan.ready_timeout,
            settle=self.plan.settle,
            max_restarts=self.plan.max_restarts,
            log=self.log,
        )

    # --- the rollback --------------------------------------------------------------------

    def _roll_back(
        self, old: Release, new: Release, before: dict[str, int], backup_id: str, why: str
    ) -> int:
        record = self._record()
        env = self.environment(record)
        self.log(f"{why}; rolling back to {old.version}", outcome="rolling-back", reason=why)
        try:
            # The link first: whatever starts the service from now on starts the old version.
            self.layout.switch(old)
            self.service.do("stop", self.log)
            how = self._restore_schema(Soulspot(old, env), Soulspot(new, env), before, backup_id)
            base_restarts = self.service.restarts()
            self.service.do("start", self.log)
            verdict = self._watch(old.version, base_restarts)
        except StepFailed as exc:
            verdict, how = Verdict(False, str(exc)), "unknown"
        if verdict.ok:
            reason = f"{why}; {how}"
            self.report(old, "rolled_back", old.version, new.version, reason)
            self.log(
                f"ROLLED BACK {new.version} -> {old.version}: {reason}",
                outcome="rolled_back",
                reason=reason,
            )
            return ROLLED_BACK
        reason = f"{why}; rollback: {verdict.reason}"
        self.report(old, "rollback_failed", old.version, new.version, reason)
        self.log(
            f"ROLLBACK FAILED ({reason}). current -> {old.path}; pre-upgrade backup "
            f"{backup_id}; follow docs/operations/rollback.md in {self.record}",
            outcome="rollback_failed",
            reason=reason,
        )
        return ROLLBACK_FAILED

    def _restore_schema(
        self, old_cmd: Soulspot, new_cmd: Soulspot, before: dict[str, int], backup_id: str
    ) -> str:
        """Downgrade with the new version's code; restore the backup when that cannot run.
        Returns what was done, for the report."""
        try:
            now = new_cmd.schema()
            moved = sorted((p, before.get(p, 0)) for p, v in now.items() if v > before.get(p, 0))
            for plugin, version in moved:
                new_cmd.must("db", "downgrade", plugin, str(version), "--yes")
                self.log(f"{plugin} schema downgraded to {version} by {new_cmd.release.version}")
            if moved:
                return "schema downgraded with the new version's code, no data lost"
            return "the schema had not changed, no data lost"
        except StepFailed as exc:
            self.log(f"downgrade failed ({exc}); restoring the pre-upgrade backup {backup_id}")
        database = self.database
        aside = database.parent / "set-aside" / self._record().name
        aside.mkdir(parents=True, exist_ok=True)
        for path in database.parent.glob(database.name + "*"):
            path.rename(aside / path.name)
        old_cmd.must("backup", "restore", backup_id, "--yes")
        self.log(f"restored {backup_id}; the newer database is kept in {aside}")
        return (
            f"pre-upgrade backup {backup_id} restored (writes after it are only in {aside})"
        )
