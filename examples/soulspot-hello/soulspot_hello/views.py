"""The plugin's page (imported lazily from ``plugin.py``, so Flask loads only with the app)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from soulspot.api import config_for

from .state import state

bp = Blueprint("hello", __name__, template_folder="templates")


def runs() -> int:
    """How often the ``hello.count`` job ran in this app (kept per app, not per process)."""
    return state(current_app).runs


def count_job() -> None:
    """The scheduled job: runs in an app context, with a run id as its request id."""
    hello = state(current_app)
    hello.runs += 1
    current_app.logger.getChild("hello").info("counted", extra={"runs": hello.runs})


@bp.get("/hello")
def index() -> str:
    cfg = config_for("hello")
    return render_template("hello/index.html", greeting=cfg.greeting, name=cfg.name, runs=runs())
