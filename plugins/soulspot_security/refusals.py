"""The request side of :mod:`.audit_throttle`: count a refusal of this request, audit the
client's finished window, answer 429 past its budget, and the job that writes summaries of
windows nobody closed."""

from __future__ import annotations

from flask import Flask, Response, request

from soulspot.api import audit, has_storage, storage
from soulspot.errors import PROBLEM_TYPE_BASE, problem_response
from soulspot.types import Job

from .audit_throttle import SUMMARY_JOB_ID, Decision, RefusalThrottle, write_summaries


def refusal(throttle: RefusalThrottle, event: str, reason: str, origin: str | None) -> Decision:
    """Count this request's refusal; the caller audits and logs as the decision says."""
    decision, summaries = throttle.refused(request.remote_addr, event, reason, origin, request.path)
    write_summaries(summaries, audit)
    return decision


def too_many_refused(retry_after: int) -> Response:
    return problem_response(
        429,
        "Too many refused requests",
        f"This client sent too many requests that were refused. Try again in {retry_after} s.",
        type_=PROBLEM_TYPE_BASE + "rate-limited",
        headers={"Retry-After": str(retry_after)},
    )


def flush(throttle: RefusalThrottle, *, everything: bool = False) -> int:
    """Audit the summaries of finished windows (all windows with ``everything``)."""
    summaries = throttle.expired(everything=everything)
    if not summaries or not has_storage():
        return 0
    with storage().connection():
        write_summaries(summaries, lambda event, **fields: audit(event, actor="system", **fields))
    return len(summaries)


def summary_job(app: Flask, throttle: RefusalThrottle) -> Job:
    return Job(
        id=SUMMARY_JOB_ID,
        func=lambda: flush(throttle),
        trigger="interval",
        trigger_args={"minutes": 1},
    )
