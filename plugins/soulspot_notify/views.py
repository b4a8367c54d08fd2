"""The Notifications page (``/notify``): what is configured, which events send, and a
"send test notification" button; and its JSON twin."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, url_for
from pydantic import BaseModel, ConfigDict

from soulspot import api
from soulspot.errors import Problem
from soulspot.validation import NoParams, validate

from .config import ALL_EVENTS
from .service import notifier

bp = Blueprint("notify", __name__, template_folder="templates")


class TestForm(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TestResult(BaseModel):
    ok: bool
    services: int
    message: str


def _summary() -> dict[str, Any]:
    state = notifier(current_app)
    return {
        "services": len(state.config.urls),
        "events": [{"event": name, "enabled": name in state.config.events} for name in ALL_EVENTS],
        "repeat_after_minutes": state.config.repeat_after_minutes,
        "reauth_warning_days": state.config.reauth_warning_days,
    }


def _send_test() -> TestResult:
    state = notifier(current_app)
    if not state.configured:
        return TestResult(
            ok=False,
            services=0,
            message="No notification service is configured: set [plugins.notify] urls.",
        )
    delivery = state.test()
    api.audit("notify.test_sent", outcome="ok" if delivery.ok else "failed")
    if delivery.ok:
        return TestResult(ok=True, services=delivery.services, message="Test notification sent.")
    return TestResult(
        ok=False,
        services=delivery.services,
        message="Not every service accepted the test notification: see the log for which.",
    )


@bp.get("/notify")
@validate(query=NoParams)
def page(query: NoParams) -> Any:
    return render_template("notify/page.html", summary=_summary())


@bp.post("/notify/test")
@validate(form=TestForm)
def send_test(form: TestForm) -> Any:
    result = _send_test()
    flash(result.message, "success" if result.ok else "error")
    return redirect(url_for("notify.page"))


@bp.get("/api/notify")
@validate(query=NoParams)
def api_summary(query: NoParams) -> Any:
    return jsonify(_summary())


@bp.post("/api/notify/test")
@validate(
    response=TestResult,
    errors={
        409: "No notification service is configured ([plugins.notify] urls).",
        502: "Not every configured service accepted the test notification.",
    },
)
def api_test() -> Any:
    result = _send_test()
    if result.ok:
        return result
    if result.services == 0:
        raise Problem(409, "Not configured", result.message)
    raise Problem(502, "Not delivered", result.message)
