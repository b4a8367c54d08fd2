"""The one APScheduler scheduler of the serving process, fed by the ``jobs`` hook.

Tests and CLI commands never start it; they call :func:`run_job` directly when they need a
job to run. Every run gets an app context and a run id that logs carry as the request id.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from typing import Any

from flask import Flask, g

from .api import span
from .state import KernelState
from .types import Job

log = logging.getLogger("soulspot.scheduler")


def collect_jobs(app: Flask) -> list[Job]:
    state: KernelState = app.extensions["soulspot"]
    with app.app_context():  # so a jobs hook may read its config with config_for()
        return [job for group in state.hook.jobs(app=app) for job in (group or ())]


def run_job(app: Flask, job: Job) -> BaseException | None:
    """Run one job now, in an app context, and report it to ``job_executed`` hooks."""
    state: KernelState = app.extensions["soulspot"]
    run_id = f"job-{job.id}-{uuid.uuid4().hex[:12]}"
    error: BaseException | None = None
    started = time.perf_counter()
    with app.app_context():
        g.request_id = run_id
        try:
            with span(f"job {job.id}", **{"soulspot.job": job.id, "soulspot.run_id": run_id}):
                job.func()
        except Exception as exc:  # a job failing must not kill the scheduler thread
            error = exc
            log.error("scheduled job failed", exc_info=exc, extra={"job": job.id})
        state.hook.job_executed(
            app=app,
            job_id=job.id,
            run_id=run_id,
            duration=time.perf_counter() - started,
            error=error,
        )
    return error


def start_scheduler(app: Flask) -> Any:
    """Start the background scheduler with every plugin's jobs; returns it."""
    from apscheduler.schedulers.background import BackgroundScheduler

    state: KernelState = app.extensions["soulspot"]
    scheduler = BackgroundScheduler(
        timezone=dt.UTC, job_defaults={"coalesce": True, "max_instances": 1}
    )
    now = dt.datetime.now(dt.UTC)
    for job in collect_jobs(app):
        extra: dict[str, Any] = {"next_run_time": now} if job.run_at_start else {}
        scheduler.add_job(
            run_job,
            job.trigger,
            args=(app, job),
            id=job.id,
            name=job.id,
            misfire_grace_time=job.misfire_grace_time,
            replace_existing=True,
            **dict(job.trigger_args),
            **extra,
        )
    scheduler.start()
    state.scheduler = scheduler
    return scheduler
