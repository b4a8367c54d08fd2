"""What the plugin keeps per app: the job's run count and its Prometheus counter.

Tests build many apps in one process, so nothing lives at module level: the state sits in
the app's ``extensions`` under the plugin's own key (read by no other plugin), made on first
use. The counter is created with ``registry=None`` and handed to the metrics plugin through
the ``metrics`` hook, which registers it in that app's own registry; without the metrics
plugin it still counts, unseen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from flask import Flask
from prometheus_client import Counter

KEY = "soulspot_hello"


def _greetings_counter() -> Counter:
    return Counter(
        "soulspot_hello_greetings_total",
        "Greetings stored through the hello API.",
        registry=None,
    )


@dataclass
class HelloState:
    runs: int = 0
    greetings: Counter = field(default_factory=_greetings_counter)


def state(app: Flask) -> HelloState:
    found = app.extensions.get(KEY)
    if found is None:
        found = app.extensions[KEY] = HelloState()
    return cast(HelloState, found)
